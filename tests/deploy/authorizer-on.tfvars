# The example with every optional part on: scripts/validate-deploy scans it with checkov too,
# so that the authorizer's resources are checked as they deploy.
authorizer                   = true
authorizer_identity_source   = "cookie"
authorizer_cache_ttl_seconds = 0
session_sliding              = true
session_cookie_name          = "__Host-session"
forward_auth_data            = true
forward_auth_data_max_bytes  = 4096
