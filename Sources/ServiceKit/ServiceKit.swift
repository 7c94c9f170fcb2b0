/// What the stock-listing and trade services share.
public enum ServiceKit {}
