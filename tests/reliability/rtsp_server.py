"""A loopback RTSP camera for the reliability tests: GStreamer's RTSP server playing a clip.

Run with the system Python (``/usr/bin/python3``), whose ``gi`` bindings come from Debian:
``python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad``.
Usage: ``rtsp_server.py PORT CLIP.mp4``; serves ``rtsp://127.0.0.1:PORT/cam`` in real time (the
RTP payloader is paced by the pipeline clock, as a camera would be) and prints ``ready`` once it
listens. The clip is demuxed and re-packetised, never re-encoded, so it costs almost no CPU.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port, clip = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")  # loopback only
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f'( filesrc location="{clip}" ! qtdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )'
)
factory.set_shared(True)  # one "camera": every client sees the same live stream
server.get_mount_points().add_factory("/cam", factory)
if server.attach(None) == 0:
    sys.exit(f"cannot listen on 127.0.0.1:{port}")
print("ready", flush=True)
GLib.MainLoop().run()
