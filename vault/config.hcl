# OpenBao / Vault server for stockops: integrated (raft) storage, a listener on the loopback
# interface only, and a file audit device declared here (OpenBao 2.x refuses to enable audit
# devices through the API unless unsafe_allow_api_audit_creation is set).

ui            = false

api_addr     = "http://127.0.0.1:8200"
cluster_addr = "http://127.0.0.1:8201"

storage "raft" {
  path    = "/vault/data"
  node_id = "stockops-1"
}

# Loopback only; put TLS in front (or set tls_cert_file / tls_key_file) before exposing it.
listener "tcp" {
  address         = "127.0.0.1:8200"
  cluster_address = "127.0.0.1:8201"
  tls_disable     = true
}

audit "file" "file" {
  description = "Every request and response, HMAC-hashed, one JSON object per line."
  options {
    file_path = "/vault/logs/audit.log"
    mode      = "0600"
  }
}
