"""Radiation dose: where dose SR parsing (one function per DICOM template), the KOS export to
the national teleradiology node and the dose registry with its reference levels will live."""
