# shellcheck shell=bash
# Sourced by the scripts: loopback ports.
#   free_port       prints a TCP port nothing listens on now
#   port_busy PORT  succeeds when something accepts connections on 127.0.0.1:PORT
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
