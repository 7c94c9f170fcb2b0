# The stage environment's services (their Vault Agent): read the stage database and application settings, and
# nothing of another environment.

path "secret/data/stage/db/*" {
  capabilities = ["read"]
}

path "secret/data/stage/app/*" {
  capabilities = ["read"]
}
