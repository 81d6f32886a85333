"""Units, colours and labels shared by the charts: the plots of a comparison and the live widgets.

Memory is shown in binary units, named as such: MiB (2**20 bytes), KiB (2**10).

>>> round(3 * MiB / MiB, 1), MEMORY_LABELS['rss_anon']
(3.0, 'anonymous')
"""

#: Bytes in a mebibyte: every memory figure in a chart, a table or a status line is shown in these, labelled MiB.
MiB = 2**20

#: Bytes in a kibibyte (labelled KiB).
KiB = 2**10

#: Per-stream bars: streams active now, and the others.
ACTIVE_COLOR = "tab:orange"
IDLE_COLOR = "tab:blue"

#: Resident memory of a process, by kind: colour and label of each line.
MEMORY_COLORS = {"rss": "black", "rss_anon": "tab:red", "rss_file": "tab:green"}
MEMORY_LABELS = {"rss": "RSS", "rss_anon": "anonymous", "rss_file": "file-backed"}

#: Windows drawn per second.
THROUGHPUT_COLOR = "tab:purple"
THROUGHPUT_LABEL = "windows / s"
