"""The DICOM node and its protocol pieces: the node, transport tuning, the one-``sendall``
C-STORE sender, C-FIND over the index and dataset parsing."""
