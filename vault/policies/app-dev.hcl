# The dev environment's services (their Vault Agent): read the dev database and application settings, and
# nothing of another environment.

path "secret/data/dev/db/*" {
  capabilities = ["read"]
}

path "secret/data/dev/app/*" {
  capabilities = ["read"]
}
