# The services: read their database and application settings, and nothing else.

path "secret/data/db/*" {
  capabilities = ["read"]
}

path "secret/data/app/*" {
  capabilities = ["read"]
}
