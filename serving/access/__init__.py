"""Access control and accountability of the service: API keys, roles, the consultation log.

`keys` makes and checks API keys (secrets shown once, stored only as salted, peppered
hashes); `policy` is the role x route table every request is checked against; `audit` builds
and verifies the hash-chained consultation log that DOMAIN.md's accountability section asks for.
"""
