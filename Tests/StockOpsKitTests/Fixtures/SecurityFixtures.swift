import Foundation

/// Documents in the shapes of tools and APIs that cannot run here. Each names its source.
enum SecurityFixtures {
    /// A ZAP baseline JSON report, rendered by hand from the traditional JSON report template
    /// (zaproxy/zap-extensions `addOns/reports/src/main/zapHomeFiles/reports/traditional-json/report.json`).
    static let zapJSON = #"""
        {
        	"@programName": "ZAP",
        	"@version": "2.16.1",
        	"@generated": "Sun, 22 Nov 2026 20:00:00",
        	"created": "2026-11-22T20:00:00.000000Z",
        	"site":[
        		{
        			"@name": "http://127.0.0.1:8011",
        			"@host": "127.0.0.1",
        			"@port": "8011",
        			"@ssl": "false",
        			"alerts": [
        				{
        					"pluginid": "10021",
        					"alertRef": "10021",
        					"alert": "X-Content-Type-Options Header Missing",
        					"name": "X-Content-Type-Options Header Missing",
        					"riskcode": "1",
        					"confidence": "2",
        					"riskdesc": "Low (Medium)",
        					"desc": "<p>The Anti-MIME-Sniffing header X-Content-Type-Options was not set to 'nosniff'.</p>",
        					"instances":[
        						{"id": "1", "uri": "http://127.0.0.1:8011/health", "nodeName": "health", "method": "GET", "param": "x-content-type-options", "attack": "", "evidence": "", "otherinfo": ""},
        						{"id": "2", "uri": "http://127.0.0.1:8011/trades", "nodeName": "trades", "method": "GET", "param": "x-content-type-options", "attack": "", "evidence": "", "otherinfo": ""}
        					],
        					"count": "2",
        					"systemic": true,
        					"solution": "<p>Ensure that the application/web server sets the Content-Type header appropriately.</p>",
        					"otherinfo": "",
        					"reference": "<p>https://owasp.org/www-community/Security_Headers</p>",
        					"cweid": "693",
        					"wascid": "15",
        					"sourceid": "3"
        				},
        				{
        					"pluginid": "10036",
        					"alertRef": "10036",
        					"alert": "Server Leaks Version Information via \"Server\" HTTP Response Header Field",
        					"name": "Server Leaks Version Information via \"Server\" HTTP Response Header Field",
        					"riskcode": "1",
        					"confidence": "3",
        					"riskdesc": "Low (High)",
        					"desc": "<p>The web/application server is leaking version information via the \"Server\" HTTP response header.</p>",
        					"instances":[
        						{"id": "3", "uri": "http://127.0.0.1:8011/", "nodeName": "", "method": "GET", "param": "", "attack": "", "evidence": "hummingbird", "otherinfo": ""}
        					],
        					"count": "1",
        					"systemic": false,
        					"solution": "<p>Ensure that your web server does not leak version information.</p>",
        					"otherinfo": "",
        					"reference": "",
        					"cweid": "497",
        					"wascid": "13",
        					"sourceid": "3"
        				}
        			]
        		}
        	]
        }
        """#

    /// The same alerts as ZAP's traditional XML report
    /// (zaproxy/zap-extensions `addOns/reports/src/main/zapHomeFiles/reports/traditional-xml/report.xml`).
    static let zapXML = """
        <?xml version="1.0"?>
        <OWASPZAPReport programName="ZAP" version="2.16.1" generated="Sun, 22 Nov 2026 20:00:00" created="2026-11-22T20:00:00.000000Z">
        	<site name="http://127.0.0.1:8011" host="127.0.0.1" port="8011" ssl="false">
        		<alerts>
        			<alertitem>
        				<pluginid>10021</pluginid>
        				<alertRef>10021</alertRef>
        				<alert>X-Content-Type-Options Header Missing</alert>
        				<name>X-Content-Type-Options Header Missing</name>
        				<riskcode>1</riskcode>
        				<confidence>2</confidence>
        				<riskdesc>Low (Medium)</riskdesc>
        				<confidencedesc>Medium</confidencedesc>
        				<desc>&lt;p&gt;The Anti-MIME-Sniffing header X-Content-Type-Options was not set to 'nosniff'.&lt;/p&gt;</desc>
        				<instances>
        					<instance>
        						<uri>http://127.0.0.1:8011/health</uri>
        						<nodeName>health</nodeName>
        						<method>GET</method>
        						<param>x-content-type-options</param>
        						<attack></attack>
        						<evidence></evidence>
        						<otherinfo></otherinfo>
        					</instance>
        				</instances>
        				<count>1</count>
        				<systemic>true</systemic>
        				<solution>&lt;p&gt;Ensure that the application/web server sets the Content-Type header appropriately.&lt;/p&gt;</solution>
        				<otherinfo></otherinfo>
        				<reference>&lt;p&gt;https://owasp.org/www-community/Security_Headers&lt;/p&gt;</reference>
        				<cweid>693</cweid>
        				<wascid>15</wascid>
        				<sourceid>3</sourceid>
        			</alertitem>
        		</alerts>
        	</site>
        </OWASPZAPReport>
        """

    /// An Argo CD `v1alpha1Application` as `GET /api/v1/applications/{name}` returns it (argo-cd `assets/swagger.json`:
    /// `status.sync.{status,revision}`, `status.health.{status,message}`, `status.operationState.phase`).
    static func argoApplication(sync: String, health: String, revision: String?, name: String = "stockapp-stage") -> String {
        let revisionField = revision.map { "\"revision\": \"\($0)\", " } ?? ""
        return """
            {"metadata": {"name": "\(name)", "namespace": "argocd"},
             "spec": {"project": "default", "source": {"repoURL": "https://git.example.com/infra.git", "path": "overlays/stage", "targetRevision": "main"},
                      "destination": {"server": "https://kubernetes.default.svc", "namespace": "stockapp"}},
             "status": {"sync": {\(revisionField)"status": "\(sync)"}, "health": {"status": "\(health)"},
                        "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)"}}}
            """
    }
}
