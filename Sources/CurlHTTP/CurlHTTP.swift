import CCurl
/// An HTTP client over libcurl.
public enum CurlHTTP {}
