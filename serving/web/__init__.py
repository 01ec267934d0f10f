"""Web pages for officers and risk managers, served by the same app as the API.

`pages` holds the routes (server-rendered Jinja2 templates, no JavaScript), `session` the
signed session cookie, `charts` the SVG charts and `explanations` the per-threat waterfalls.
"""
