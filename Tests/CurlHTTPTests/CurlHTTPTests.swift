@testable import CurlHTTP
