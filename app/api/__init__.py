"""REST APIs under /api/v1/ (FAB ModelRestApi, JWT), one module per area; app/registry.py adds them.

Routes and permissions follow app/roles.py (see app/api/base.py). The OpenAPI document at
/api/v1/_openapi is FAB's `OpenApi` view: it needs a login and the `can_get` permission on
`OpenApi` (Admin has it; grant it in roles.py to the roles that should read the spec).
"""
