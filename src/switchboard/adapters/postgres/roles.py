"""The database roles the schema is built around."""

# What the server connects as: not a superuser, not an owner, no BYPASSRLS.
APP_ROLE = "switchboard_app"
# Owns the cross-tenant lookup functions and can read only the columns they need. NOLOGIN.
DIRECTORY_ROLE = "switchboard_directory"
