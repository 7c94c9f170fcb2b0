/// Sample outputs of tools that cannot run here, taken from their documentation. Each names its source.
enum DocumentedFixtures {
    /// Trivy's JSON report with vulnerabilities. Findings as in Trivy's "Report Formats" documentation
    /// (`trivy image -f json -o results.json golang:1.12-alpine`), inside the schema version 2 envelope that
    /// trivy 0.76 writes (as captured in ``TrivyFixtures/secretScan``).
    static let trivyVulnerabilities = #"""
        {
          "SchemaVersion": 2,
          "ArtifactName": "harbor.example.com/stocks/trade@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
          "ArtifactType": "container_image",
          "Results": [
            {
              "Target": "php-app/composer.lock",
              "Class": "lang-pkgs",
              "Type": "composer",
              "Vulnerabilities": null
            },
            {
              "Target": "node-app/package-lock.json",
              "Class": "lang-pkgs",
              "Type": "npm",
              "Vulnerabilities": [
                {
                  "VulnerabilityID": "CVE-2018-16487",
                  "PkgName": "lodash",
                  "InstalledVersion": "4.17.4",
                  "FixedVersion": "\u003e=4.17.11",
                  "Title": "lodash: Prototype pollution in utilities function",
                  "Description": "A prototype pollution vulnerability was found in lodash \u003c4.17.11 where the functions merge, mergeWith, and defaultsDeep can be tricked into adding or modifying properties of Object.prototype.",
                  "Severity": "HIGH",
                  "References": ["https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2018-16487"]
                }
              ]
            },
            {
              "Target": "trivy-ci-test (alpine 3.7.1)",
              "Class": "os-pkgs",
              "Type": "alpine",
              "Vulnerabilities": [
                {
                  "VulnerabilityID": "CVE-2018-16840",
                  "PkgName": "curl",
                  "InstalledVersion": "7.61.0-r0",
                  "FixedVersion": "7.61.1-r1",
                  "Title": "curl: Use-after-free when closing \"easy\" handle in Curl_close()",
                  "Severity": "HIGH"
                },
                {
                  "VulnerabilityID": "CVE-2019-3822",
                  "PkgName": "curl",
                  "InstalledVersion": "7.61.0-r0",
                  "FixedVersion": "7.61.1-r2",
                  "Title": "curl: NTLMv2 type-3 header stack buffer overflow",
                  "Severity": "CRITICAL"
                },
                {
                  "VulnerabilityID": "CVE-2018-20685",
                  "PkgName": "openssh",
                  "InstalledVersion": "7.5_p1-r9",
                  "FixedVersion": "",
                  "Title": "openssh: scp client improper directory name validation",
                  "Severity": "LOW"
                }
              ]
            }
          ]
        }
        """#

    /// Error output of a trivy run rate-limited by the DB registry, in the form trivy's troubleshooting guide
    /// (section "TOOMANYREQUESTS") shows.
    static let trivyRateLimited = #"""
        2024-05-06T09:28:27.713Z	INFO	Need to update DB
        2024-05-06T09:28:27.713Z	INFO	Downloading DB...	repository="ghcr.io/aquasecurity/trivy-db:2"
        2024-05-06T09:28:28.091Z	FATAL	init error: DB error: failed to download vulnerability DB: database download error: OCI repository error: 1 error occurred:
        	* GET https://ghcr.io/v2/aquasecurity/trivy-db/manifests/2: TOOMANYREQUESTS: retry-after: 1.0 seconds, allowed: 44000/minute
        """#

    /// `cosign verify --key cosign.pub IMAGE@DIGEST` standard output, as Sigstore's "Verifying Signatures"
    /// documentation shows it: the checks performed (on standard error), then the verified payloads as JSON.
    static let cosignVerify = #"""
        Verification for harbor.example.com/stocks/trade@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --
        The following checks were performed on each of these signatures:
          - The cosign claims were validated
          - Existence of the claims in the transparency log was verified offline
          - The signatures were verified against the specified public key
        [{"critical":{"identity":{"docker-reference":"harbor.example.com/stocks/trade"},"image":{"docker-manifest-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"type":"cosign container image signature"},"optional":{"Bundle":{"SignedEntryTimestamp":"MEUCIQ...","Payload":{"body":"eyJ...","integratedTime":1715000000,"logIndex":93000000,"logID":"c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"}}}}]
        """#

    /// `cosign verify --key cosign.pub IMAGE@DIGEST` standard output from cosign 3, where signatures are Sigstore
    /// bundles by default: `transformOutput` in sigstore/cosign `cmd/cosign/cli/verify/verify.go` turns each verified
    /// in-toto statement into a simple-signing payload whose type is the predicate type, whose identity is the
    /// reference as given, and whose optional part is the subject's annotations.
    static let cosign3Verify = #"""
        Verification for harbor.example.com/stocks/trade@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --
        The following checks were performed on each of these signatures:
          - The cosign claims were validated
          - Existence of the claims in the transparency log was verified offline
          - The signatures were verified against the specified public key
        [{"critical":{"identity":{"docker-reference":"harbor.example.com/stocks/trade@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"image":{"docker-manifest-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"type":"https://sigstore.dev/cosign/sign/v1"},"optional":{}}]
        """#

    /// `GET api/qualitygates/project_status?projectKey=…` response example from SonarQube's Web API documentation.
    static let sonarProjectStatus = #"""
        {
          "projectStatus": {
            "status": "ERROR",
            "ignoredConditions": false,
            "caycStatus": "non-compliant",
            "conditions": [
              {"status": "ERROR", "metricKey": "new_coverage", "comparator": "LT", "periodIndex": 1, "errorThreshold": "85", "actualValue": "82.50562381034781"},
              {"status": "ERROR", "metricKey": "new_blocker_violations", "comparator": "GT", "periodIndex": 1, "errorThreshold": "0", "actualValue": "14"},
              {"status": "ERROR", "metricKey": "new_critical_violations", "comparator": "GT", "periodIndex": 1, "errorThreshold": "0", "actualValue": "1"},
              {"status": "OK", "metricKey": "new_sqale_debt_ratio", "comparator": "GT", "periodIndex": 2, "errorThreshold": "5", "actualValue": "0.6562109862671661"},
              {"status": "OK", "metricKey": "reopened_issues", "comparator": "GT", "periodIndex": 3, "actualValue": "0"},
              {"status": "ERROR", "metricKey": "open_issues", "comparator": "GT", "periodIndex": 3, "errorThreshold": "0", "actualValue": "17"},
              {"status": "OK", "metricKey": "skipped_tests", "comparator": "GT", "periodIndex": 5, "errorThreshold": "0", "actualValue": "0"}
            ],
            "periods": [
              {"index": 1, "mode": "last_period", "date": "2000-04-27T00:45:23+0200"},
              {"index": 2, "mode": "last_version", "date": "2000-04-27T00:45:23+0200", "parameter": "2015-12-07"},
              {"index": 3, "mode": "last_analysis", "date": "2000-04-27T00:45:23+0200"}
            ]
          }
        }
        """#

    /// A passing gate, same shape.
    static let sonarProjectStatusOK = #"""
        {"projectStatus": {"status": "OK", "conditions": [{"status": "OK", "metricKey": "new_coverage", "comparator": "LT", "errorThreshold": "80", "actualValue": "91.2"}], "periods": []}}
        """#

    /// `docker buildx inspect` of a `docker-container` builder: the example of docker/buildx
    /// `docs/reference/buildx_inspect.md` (commit 461836ba0fcb3e847dab6045a726889faa150bdb).
    static let buildxInspectDockerContainer = """
        Name:          elated_tesla
        Driver:        docker-container
        Last Activity: 2022-11-30 12:42:47 +0100 CET

        Nodes:
        Name:           elated_tesla0
        Endpoint:       unix:///var/run/docker.sock
        Driver Options: env.BUILDKIT_STEP_LOG_MAX_SPEED="10485760" env.JAEGER_TRACE="localhost:6831" image="moby/buildkit:latest" network="host" env.BUILDKIT_STEP_LOG_MAX_SIZE="10485760"
        Status:         running
        Flags:          --debug --allow-insecure-entitlement security.insecure --allow-insecure-entitlement network.host
        BuildKit:       v0.10.6
        Platforms:      linux/arm64*, linux/arm/v7, linux/arm/v6
        Labels:
         org.mobyproject.buildkit.worker.executor:         oci
         org.mobyproject.buildkit.worker.hostname:         docker-desktop
         org.mobyproject.buildkit.worker.network:          host
         org.mobyproject.buildkit.worker.oci.process-mode: sandbox
         org.mobyproject.buildkit.worker.selinux.enabled:  false
         org.mobyproject.buildkit.worker.snapshotter:      overlayfs
        GC Policy rule#0:
         All:           false
         Filters:       type==source.local,type==exec.cachemount,type==source.git.checkout
         Keep Duration: 48h0m0s
         Keep Bytes:    488.3MiB

        """

    /// `docker buildx inspect` of Docker's default builder (`docker` driver) on the classic image store, laid out
    /// as docker/buildx `commands/inspect.go` (461836ba) prints it, with the one worker label Docker's graph-driver
    /// BuildKit sets (moby `builder/builder-next/controller.go`, `newGraphDriverController`).
    static let buildxInspectDockerDriver = """
        Name:          default
        Driver:        docker
        Last Activity: 2026-11-30 09:12:31 +0000 UTC

        Nodes:
        Name:             default
        Endpoint:         default
        Status:           running
        BuildKit version: v0.23.2
        Platforms:        linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/386
        Labels:
         org.mobyproject.buildkit.worker.moby.host-gateway-ip: 172.17.0.1
        GC Policy rule#0:
         All:            false
         Filters:        type==source.local,type==exec.cachemount,type==source.git.checkout
         Keep Duration:  48h0m0s
         Max Used Space: 488.3MiB

        """

    /// The same builder with Docker's containerd image store: its BuildKit worker carries the snapshotter label
    /// (moby `newSnapshotterController`), which buildx reads as cache export support.
    static let buildxInspectDockerDriverContainerd = """
        Name:          default
        Driver:        docker
        Last Activity: 2026-11-30 09:12:31 +0000 UTC

        Nodes:
        Name:             default
        Endpoint:         default
        Status:           running
        BuildKit version: v0.23.2
        Platforms:        linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/386
        Labels:
         org.mobyproject.buildkit.worker.moby.host-gateway-ip: 172.17.0.1
         org.mobyproject.buildkit.worker.snapshotter:          overlayfs

        """

    /// A buildx `--metadata-file`, as Docker's `docker buildx build` reference documents it.
    static let buildxMetadata = #"""
        {
          "buildx.build.provenance": {},
          "buildx.build.ref": "mybuilder/mybuilder0/0fjb6ubs52xx3vygf6fgdl611",
          "containerimage.config.digest": "sha256:2937f66a9722f7f4a2df583de2f8cb97fc9196059a410e7f00072fc918930e66",
          "containerimage.descriptor": {
            "annotations": {"config.digest": "sha256:2937f66a9722f7f4a2df583de2f8cb97fc9196059a410e7f00072fc918930e66", "org.opencontainers.image.created": "2022-02-08T21:28:03Z"},
            "digest": "sha256:19ffeab6f8bc9293ac2c3fdf94ebe28396254c993aea0b5a542cfb02e0883fa3",
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 506
          },
          "containerimage.digest": "sha256:19ffeab6f8bc9293ac2c3fdf94ebe28396254c993aea0b5a542cfb02e0883fa3"
        }
        """#

    /// `docker compose ps --format json` from Compose 2.21 and later: one JSON object per line (Docker's
    /// `docker compose ps` reference shows the fields).
    static let composePSLines = #"""
        {"Command":"\"/docker-entrypoint.sh nginx -g 'daemon off;'\"","CreatedAt":"2023-10-10 10:00:00 +0000 UTC","ExitCode":0,"Health":"","ID":"a1b2c3","Image":"nginx","Name":"stocks-dev-web-1","Project":"stocks-dev","Publishers":[],"RunningFor":"2 minutes ago","Service":"web","State":"running","Status":"Up 2 minutes"}
        {"Command":"\"docker-entrypoint.sh postgres\"","CreatedAt":"2023-10-10 10:00:00 +0000 UTC","ExitCode":0,"Health":"healthy","ID":"d4e5f6","Image":"postgres:16","Name":"stocks-dev-db-1","Project":"stocks-dev","Publishers":[],"RunningFor":"2 minutes ago","Service":"db","State":"running","Status":"Up 2 minutes (healthy)"}
        """#

    /// The same from Compose before 2.21: one JSON array.
    static let composePSArray = #"""
        [{"ID":"a1b2c3","Name":"stocks-dev-web-1","Image":"nginx","Command":"/docker-entrypoint.sh","Project":"stocks-dev","Service":"web","Created":1696932000,"State":"exited","Status":"Exited (1) 5 seconds ago","Health":"","ExitCode":1,"Publishers":null}]
        """#
}
