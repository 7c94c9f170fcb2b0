# Agent beside a service: logs in with its environment's AppRole (app-<env>, which reads secret/<env>/ only),
# renders that environment's database settings (secret/<env>/db/stockops, <env> from STOCKOPS_ENVIRONMENT) to
# /vault/secrets/db.env (read by the services), then creates /vault/secrets/.ready so the service can
# start; and renders the database password alone to /vault/secrets/postgres-password, group-readable, for
# the database container's POSTGRES_PASSWORD_FILE (environments/*.yml).
# VAULT_ADDR in the environment overrides the address below.

pid_file = "/vault/agent/agent.pid"

vault {
  address = "http://127.0.0.1:8200"
  retry {
    num_retries = 5
  }
}

auto_auth {
  method "approle" {
    mount_path = "auth/approle"
    config = {
      role_id_file_path                   = "/vault/approle/app/role_id"
      secret_id_file_path                 = "/vault/approle/app/secret_id"
      remove_secret_id_file_after_reading = false
    }
  }

  sink "file" {
    config = {
      path = "/vault/agent/token"
      mode = 0600
    }
  }
}

template_config {
  exit_on_retry_failure = true
}

template {
  destination = "/vault/secrets/db.env"
  perms       = "0600"
  contents    = <<EOT
{{ with secret (printf "secret/data/%s/db/stockops" (env "STOCKOPS_ENVIRONMENT")) -}}
export DATABASE_URL="{{ .Data.data.url }}"
export DB_PASSWORD="{{ .Data.data.password }}"
{{- end }}
EOT

  exec {
    command = ["touch", "/vault/secrets/.ready"]
  }
}

template {
  destination = "/vault/secrets/postgres-password"
  perms       = "0640"
  contents    = <<EOT
{{ with secret (printf "secret/data/%s/db/stockops" (env "STOCKOPS_ENVIRONMENT")) }}{{ .Data.data.password }}{{ end }}
EOT
}
