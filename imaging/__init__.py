"""DICOM node, study index, forwarding to the central PACS, image links (not built yet)."""
