"""The imaging device registry of each facility: its modalities (matched to incoming studies by
serial number, station name or AE title), dose exemptions, and daily operating logs with uptime.
Used by the dose compliance report and by teleradiology quality control."""
