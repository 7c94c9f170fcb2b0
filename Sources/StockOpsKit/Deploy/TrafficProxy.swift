import Foundation

/// One of an environment's two sets of service containers. The proxy sends traffic to one; the other holds the version
/// that ran before (retained for an instant rollback) or the next one while it is started and smoke-tested.
public enum Slot: String, Codable, Sendable, CaseIterable {
    case blue, green

    public var other: Slot { self == .blue ? .green : .blue }

    /// The Compose service of `service` in this slot: `trade-blue`.
    public func composeService(_ service: String) -> String { "\(service)-\(rawValue)" }

    /// The service and slot of a Compose service name such as `trade-green`; nil for the others (`db`, `proxy`).
    public static func parse(_ composeService: String) -> (service: String, slot: Slot)? {
        for slot in Slot.allCases where composeService.hasSuffix("-" + slot.rawValue) {
            return (String(composeService.dropLast(slot.rawValue.count + 1)), slot)
        }
        return nil
    }
}

/// What a slot's containers were started with.
public struct SlotContents: Codable, Sendable, Equatable {
    public var tag: String
    /// Digest per service.
    public var images: [String: String]

    public init(tag: String, images: [String: String]) {
        self.tag = tag
        self.images = images
    }
}

/// The reverse proxy in front of an environment: HAProxy 2.6 (the `proxy` service of `environments/compose.yml`), owning
/// the published ports and forwarding each service to the container of one slot.
///
/// stockops writes its configuration to `<state>/proxy/<project>/haproxy.cfg`, mounted into the container, and switches
/// slots by rewriting it and sending SIGUSR2: HAProxy's master process starts a new worker on the same listening
/// sockets, and the old worker finishes its in-flight requests before it exits (bounded by `hard-stop-after`). The file
/// is the one record of where traffic goes, so a restarted proxy comes back on the same slot. Every response carries
/// ``slotHeader``, by which a switch is confirmed through the published ports.
public struct TrafficProxy: Sendable {
    /// The header naming the slot that answered.
    public static let slotHeader = "X-Stockops-Slot"
    /// How long the old worker may keep serving in-flight requests after a switch.
    public static let drainLimit = 30

    /// `<state>/proxy/<project>`: the directory mounted as `/usr/local/etc/haproxy`.
    public let directory: String

    public init(stateDirectory: String, project: String) {
        directory = stateDirectory + "/proxy/" + project
    }

    var configurationPath: String { directory + "/haproxy.cfg" }
    var slotsPath: String { directory + "/slots.json" }

    /// The slot the configuration sends traffic to; nil before the environment's first switch.
    public func activeSlot() -> Slot? {
        // Missing before the first switch, which is what nil means here.
        guard let text = try? String(contentsOfFile: configurationPath, encoding: .utf8),
            let first = text.split(separator: "\n", maxSplits: 1).first, first.hasPrefix(Self.marker)
        else { return nil }
        return Slot(rawValue: first.dropFirst(Self.marker.count).prefix { $0.isLetter }.description)
    }

    /// What each slot was last started with.
    public func slots() -> [Slot: SlotContents] {
        // Missing before the first deploy, and written whole through a rename: one that does not decode counts as nothing recorded.
        guard let data = FileManager.default.contents(atPath: slotsPath),
            let decoded = try? JSONDecoder().decode([String: SlotContents].self, from: data)
        else { return [:] }
        var slots: [Slot: SlotContents] = [:]
        for (name, contents) in decoded {
            if let slot = Slot(rawValue: name) { slots[slot] = contents }
        }
        return slots
    }

    /// Records what `slot` runs (nil: nothing).
    public func record(_ contents: SlotContents?, in slot: Slot) throws {
        var slots = slots()
        slots[slot] = contents
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try write(try encoder.encode(Dictionary(uniqueKeysWithValues: slots.map { ($0.key.rawValue, $0.value) })), to: slotsPath)
    }

    /// The slot and percentage of a canary the configuration sends a share of the traffic to; nil without one.
    public func canary() -> (slot: Slot, weight: Int)? {
        // Missing before the first switch: no canary.
        guard let text = try? String(contentsOfFile: configurationPath, encoding: .utf8),
            let first = text.split(separator: "\n", maxSplits: 1).first, first.hasPrefix(Self.marker),
            let range = first.range(of: Self.canaryMarker)
        else { return nil }
        let words = first[range.upperBound...].split(separator: " ")
        guard words.count == 2, let slot = Slot(rawValue: String(words[0])), let weight = Int(words[1].dropLast()) else { return nil }
        return (slot, weight)
    }

    /// Writes the configuration sending every service to `active`, or, with `canary`, that share of the requests to the
    /// canary's slot and the rest to `active`.
    public func writeConfiguration(active: Slot, canary: (slot: Slot, weight: Int)? = nil, services: [ServiceConfig]) throws {
        try write(Data(Self.configuration(active: active, canary: canary, services: services).utf8), to: configurationPath)
    }

    private static let marker = "# stockops: traffic to "
    private static let canaryMarker = "; canary "

    /// HAProxy's configuration: one frontend per service on its container port, one backend with a server per slot, the
    /// inactive one a `backup` (during a canary, both weighted). The backup serves only while the active server has no
    /// address or fails its checks: a reloaded worker resolves the just-started slot's name through Docker's DNS
    /// (`init-addr libc,none`, then the `docker` resolvers) and, were the inactive server disabled, would answer 503
    /// "No server is available" until it has; the retained slot answers meanwhile. A check may take 5 s to answer
    /// (`timeout check`; without it the whole check must end within `inter`, 1 s): a live slot on a busy host is not
    /// taken for down and its traffic is not sent to the backup or refused. Connection failures (a container
    /// that just stopped) are retried on another server; requests that reached a server are never sent twice.
    public static func configuration(active: Slot, canary: (slot: Slot, weight: Int)? = nil, services: [ServiceConfig]) -> String {
        let canaryNote = canary.map { "\(canaryMarker)\($0.slot.rawValue) \($0.weight)%" } ?? ""
        var text = """
            \(marker)\(active.rawValue)\(canaryNote)
            # Written by stockops deploy and rollback (edits are overwritten); the switch is a reload (SIGUSR2).
            global
                hard-stop-after \(drainLimit)s

            resolvers docker
                nameserver dns 127.0.0.11:53
                hold valid 1s

            defaults
                mode http
                timeout connect 2s
                timeout client 60s
                timeout server 60s
                timeout http-keep-alive 10s
                retries 3
                option redispatch 1
                retry-on conn-failure

            """
        for service in services {
            text += """

                frontend \(service.name)
                    bind :\(service.containerPort)
                    default_backend \(service.name)

                backend \(service.name)
                    option httpchk GET \(service.healthPath)
                    timeout check 5s
                    http-response set-header \(slotHeader) %[srv_name]

                """
            for slot in Slot.allCases {
                let server =
                    "    server \(slot.rawValue) \(slot.composeService(service.name)):\(service.containerPort) check inter 1s resolvers docker init-addr libc,none"
                if let canary, canary.slot != active {
                    text += server + " weight \(slot == canary.slot ? canary.weight : 100 - canary.weight)\n"
                } else {
                    text += server + (slot == active ? "" : " backup") + "\n"
                }
            }
        }
        return text
    }

    /// Writes `data` to `path` through a new file renamed over it, readable by the proxy's user (0644, directory 0755).
    func write(_ data: Data, to path: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        chmod(directory, 0o755)
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o644]) else {
            throw StockOpsError(.infrastructure, "cannot write \(temporary); set STOCKOPS_STATE_DIR to a writable directory")
        }
        chmod(temporary, 0o644)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw StockOpsError(.infrastructure, "cannot replace \(path): \(reason)")
        }
    }
}
