"""sslskel: self-supervised representation learning on human skeleton sequences."""
