# The pipeline: reads the credentials it needs for CI, Harbor and SonarQube, and nothing else.
# Token self-management (lookup, renew, revoke) comes from the default policy.

path "secret/data/ci/*" {
  capabilities = ["read"]
}

path "secret/data/harbor/*" {
  capabilities = ["read"]
}

path "secret/data/sonarqube/*" {
  capabilities = ["read"]
}
