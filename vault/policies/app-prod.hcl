# The prod environment's services (their Vault Agent): read the prod database and application settings, and
# nothing of another environment.

path "secret/data/prod/db/*" {
  capabilities = ["read"]
}

path "secret/data/prod/app/*" {
  capabilities = ["read"]
}
