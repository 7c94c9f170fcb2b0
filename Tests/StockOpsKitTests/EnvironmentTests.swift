import Testing

@testable import StockOpsKit

@Suite struct EnvironmentTests {
    @Test(arguments: [
        ("refs/heads/develop", Environment.dev),
        ("refs/heads/release/1.4", .stage),
        ("refs/heads/release/2026/q4", .stage),
        ("refs/tags/v1.2.3", .prod),
        ("refs/tags/v10.20.30", .prod),
    ])
    func derivesTheEnvironmentFromTheRef(ref: String, expected: Environment) {
        #expect(Environment.derive(fromRef: ref) == expected)
    }

    @Test(arguments: ["refs/heads/main", "refs/heads/feature/x", "refs/tags/v1.2", "refs/heads/developer", "refs/pull/3/merge"])
    func otherRefsDeployNowhere(ref: String) {
        #expect(Environment.derive(fromRef: ref) == nil)
    }

    @Test func anExplicitEnvironmentMustAgreeWithTheRef() throws {
        #expect(try Environment.resolve(explicit: nil, ref: "refs/heads/develop", force: false) == .dev)
        #expect(try Environment.resolve(explicit: .dev, ref: "refs/heads/develop", force: false) == .dev)
        #expect(try Environment.resolve(explicit: .stage, ref: "refs/heads/feature/x", force: false) == .stage)
        #expect(try Environment.resolve(explicit: .prod, ref: nil, force: false) == .prod)
        #expect(try Environment.resolve(explicit: .prod, ref: "refs/heads/develop", force: true) == .prod)
        #expect {
            try Environment.resolve(explicit: .prod, ref: "refs/heads/develop", force: false)
        } throws: { error in
            guard let error = error as? EnvironmentError else { return false }
            return error.code == .contradictsRef && error.message.contains("--force")
        }
        #expect {
            try Environment.resolve(explicit: nil, ref: "refs/heads/main", force: false)
        } throws: { error in
            (error as? EnvironmentError)?.code == .undetermined && (error as? EnvironmentError)?.message.contains("--env") == true
        }
    }

    @Test func imageTagsFollowTheTemplate() {
        #expect(ImageTag(template: "dev-{sha7}", commit: "1a2b3c4d5e6f", ref: "refs/heads/develop").value == "dev-1a2b3c4")
        #expect(ImageTag(template: "{ref}", commit: "1a2b3c4d5e6f", ref: "refs/tags/v1.2.3").value == "v1.2.3")
    }

    @Test func globs() {
        #expect(GlobPattern("refs/heads/release/*").matches("refs/heads/release/1.0"))
        #expect(!GlobPattern("refs/heads/release/*").matches("refs/heads/release/1/0"))
        #expect(GlobPattern("refs/heads/release/**").matches("refs/heads/release/1/0"))
        #expect(GlobPattern("v?.?").matches("v1.2"))
        #expect(!GlobPattern("v*.*.*").matches("v1.2"))
    }
}
