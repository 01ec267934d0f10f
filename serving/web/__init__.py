"""Web pages for officers and risk managers, served by the same app as the API.

One module per page (`sign_in`, `worklist`, `declaration`, `model`, `audit`), each with its
routes; `page` what they share (the pages' state, the API called as the signed-in user,
responses); `wiring` mounts them; `session` the signed session cookie, `charts` the SVG charts
and `explanations` the per-threat waterfalls. Server-rendered Jinja2 templates, no JavaScript.
"""
