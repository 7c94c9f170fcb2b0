#!/usr/bin/env python3
"""A stand-in of GitHub's "Get the review history for a workflow run" for tests and the act scenarios.

GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals with `Authorization: Bearer <token>` and
`Accept: application/vnd.github+json` answers a list in the `environment-approvals` schema of
github/rest-api-description: `state`, `comment`, `environments[]` (`id`, `node_id`, `name`, `url`, `html_url`,
`created_at`, `updated_at`) and `user` (a simple-user). 401 for another token, 404 for another repository or run,
415 without that Accept. Prints its port on the first line; GET /_requests lists what it received.

Usage: github_approvals_standin.py TOKEN OWNER/REPO RUN_ID REVIEWS_JSON, REVIEWS_JSON a list of
[state, environment, login].
"""
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN, REPOSITORY, RUN = sys.argv[1], sys.argv[2], sys.argv[3]  # "*" accepts any repository or run
REVIEWS = json.loads(sys.argv[4])
LOCK = threading.Lock()
REQUESTS = []

def user(login):
    return {"login": login, "id": 1, "node_id": "MDQ6VXNlcjE=", "avatar_url": "https://github.com/images/error/octocat_happy.gif",
            "gravatar_id": "", "url": "https://api.github.com/users/" + login, "html_url": "https://github.com/" + login,
            "type": "User", "site_admin": False}

def environment(name):
    return {"id": 161088068, "node_id": "MDExOkVudmlyb25tZW50MTYxMDg4MDY4", "name": name,
            "url": "https://api.github.com/repos/%s/environments/%s" % (REPOSITORY, name),
            "html_url": "https://github.com/%s/deployments/activity_log?environments_filter=%s" % (REPOSITORY, name),
            "created_at": "2020-11-23T22:00:40Z", "updated_at": "2020-11-23T22:00:40Z"}

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_requests":
            with LOCK:
                return self.reply(200, REQUESTS)
        with LOCK:
            REQUESTS.append({"path": self.path, "accept": self.headers.get("Accept"), "version": self.headers.get("X-GitHub-Api-Version")})
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.reply(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        parts = self.path.split("/")
        if len(parts) != 8 or parts[1] != "repos" or parts[4:6] != ["actions", "runs"] or parts[7] != "approvals" \
                or REPOSITORY not in ("*", parts[2] + "/" + parts[3]) or RUN not in ("*", parts[6]):
            return self.reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        if self.headers.get("Accept") != "application/vnd.github+json":
            return self.reply(415, {"message": "Unsupported Media Type"})
        self.reply(200, [{"state": state, "comment": "reviewed", "environments": [environment(name)], "user": user(login)} for state, name, login in REVIEWS])

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
