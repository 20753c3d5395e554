#!/usr/bin/python3
"""A small RTSP server for Veil's ingest tests, on GStreamer's RTSP server.

Run with Debian's /usr/bin/python3 (the one that sees python3-gi). Serves one
mount, /stream, either replaying an MP4 made by ffmpeg/libx264 (real
timestamps, any profile, B-frames kept) or a live test pattern, optionally
behind a Basic-auth login. Prints "ready PORT" once listening and
"client-connected" for every client connection (the tests count them).

Usage: rtsp_server.py --port N (--clip FILE | --live WxH) [--user U --password P]
                      [--timestamp-offset T] [--tls-cert PEM --tls-key PEM]
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clip")
    ap.add_argument("--live")
    ap.add_argument("--bitrate", type=int, default=2000000)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--tls-cert", help="PEM certificate: serve RTSPS")
    ap.add_argument("--tls-key", help="PEM private key of --tls-cert")
    ap.add_argument("--timestamp-offset", type=int, default=None,
                    help="first RTP timestamp (to test 32-bit wraparound)")
    a = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    offset = "" if a.timestamp_offset is None else f" timestamp-offset={a.timestamp_offset}"
    if a.clip:
        demux = "matroskademux" if a.clip.endswith(".mkv") else "qtdemux"
        launch = (
            f"( filesrc location={a.clip} ! {demux} ! h264parse ! "
            f"rtph264pay name=pay0 pt=96 config-interval=1{offset} )"
        )
    else:
        w, h = a.live.split("x")
        launch = (
            "( videotestsrc is-live=true pattern=ball ! "
            f"video/x-raw,width={w},height={h},framerate=25/1 ! "
            f"openh264enc bitrate={a.bitrate} gop-size=50 ! h264parse ! "
            "rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        factory.set_shared(True)
    factory.set_launch(launch)
    if a.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role("viewer", "media.factory.access", True)
        perms.add_permission_for_role("viewer", "media.factory.construct", True)
        factory.set_permissions(perms)
    if a.tls_cert:
        gi.require_version("Gio", "2.0")
        from gi.repository import Gio
        auth = server.get_auth() or GstRtspServer.RTSPAuth()
        auth.set_tls_certificate(Gio.TlsCertificate.new_from_files(a.tls_cert, a.tls_key))
        if not a.user:
            # Anyone who completes the TLS handshake may watch.
            token = GstRtspServer.RTSPToken()
            token.set_string("media.factory.role", "anonymous")
            auth.set_default_token(token)
            perms = GstRtspServer.RTSPPermissions()
            perms.add_permission_for_role("anonymous", "media.factory.access", True)
            perms.add_permission_for_role("anonymous", "media.factory.construct", True)
            factory.set_permissions(perms)
        server.set_auth(auth)
    server.get_mount_points().add_factory("/stream", factory)

    def on_client(_server, _client):
        try:
            print("client-connected", flush=True)
        except BrokenPipeError:
            pass  # nobody is counting connections

    server.connect("client-connected", on_client)
    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"ready {a.port}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
