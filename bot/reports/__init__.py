"""Anonymous reports counted for the city: statistics with small numbers suppressed, charts."""
