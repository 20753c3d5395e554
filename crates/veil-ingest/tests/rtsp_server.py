#!/usr/bin/python3
"""A small RTSP server for Veil's ingest tests, on GStreamer's RTSP server.

Run with Debian's /usr/bin/python3 (the one that sees python3-gi). Serves one
mount, /stream, either replaying an MP4 made by ffmpeg/libx264 (real
timestamps, any profile, B-frames kept) or a live test pattern, optionally
behind a Basic-auth login. Prints "ready PORT" once listening,
"client-connected" for every client connection and "setup URI" for every
stream a client sets up (the tests count them).

With --audio the clip's AAC track is served too (stream 1, mpeg4-generic).
With --onvif N an ONVIF metadata stream (VND.ONVIF.METADATA, 90 kHz) carries
N XML documents, one every 0.5 s from 0.5 s on, each split over RTP packets of
at most 200 payload bytes with the marker bit on its last packet; document k
holds the text "veil-test-document-k".

Usage: rtsp_server.py --port N (--clip FILE | --live WxH) [--user U --password P]
                      [--timestamp-offset T] [--tls-cert PEM --tls-key PEM]
                      [--audio] [--onvif N]
"""

import argparse
import random
import struct
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


ONVIF_CAPS = (
    "application/x-rtp,media=(string)application,clock-rate=(int)90000,"
    "encoding-name=(string)VND.ONVIF.METADATA,payload=(int)98"
)


def onvif_document(k):
    """An ONVIF MetadataStream document with one event, as cameras send them."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" '
        'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">'
        "<tt:Event><wsnt:NotificationMessage><wsnt:Message>"
        f'<tt:Message UtcTime="2024-01-01T00:00:{k:02d}Z">'
        f'<tt:Data><tt:SimpleItem Name="Note" Value="veil-test-document-{k}"/></tt:Data>'
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage></tt:Event>"
        "</tt:MetadataStream>"
    ).encode()


def push_onvif(appsrc, count):
    """Queues `count` documents as RTP packets with their presentation times
    (the sink paces them), then the end of the stream."""
    seq = random.randrange(1 << 16)
    base = random.randrange(1 << 32)
    ssrc = random.randrange(1 << 32)
    for k in range(count):
        pts_ns = (k + 1) * 500_000_000
        rtp_ts = (base + pts_ns * 90_000 // 1_000_000_000) & 0xFFFFFFFF
        doc = onvif_document(k)
        pieces = [doc[i:i + 200] for i in range(0, len(doc), 200)]
        for i, piece in enumerate(pieces):
            mark = 0x80 if i == len(pieces) - 1 else 0
            header = struct.pack("!BBHII", 0x80, mark | 98, seq & 0xFFFF, rtp_ts, ssrc)
            seq += 1
            buf = Gst.Buffer.new_wrapped(header + piece)
            buf.pts = pts_ns
            buf.dts = pts_ns
            appsrc.emit("push-buffer", buf)
    appsrc.emit("end-of-stream")


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
    ap.add_argument("--audio", action="store_true", help="serve the clip's AAC audio too")
    ap.add_argument("--onvif", type=int, default=0,
                    help="serve an ONVIF metadata stream with this many documents")
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
            f"( filesrc location={a.clip} ! {demux} name=d d.video_0 ! queue ! h264parse ! "
            f"rtph264pay name=pay0 pt=96 config-interval=1{offset}"
        )
        if a.audio:
            # Leaky: a client that does not set up the audio must not stall
            # the demuxer (and so the video) on a full audio queue.
            launch += (
                " d.audio_0 ! queue leaky=downstream max-size-buffers=200 max-size-time=0"
                " max-size-bytes=0 ! aacparse ! rtpmp4gpay name=pay1 pt=97"
            )
        if a.onvif:
            pay = "pay2" if a.audio else "pay1"
            launch += f' appsrc name={pay} format=time caps="{ONVIF_CAPS}"'
        launch += " )"

        def on_configure(_factory, media):
            if a.onvif:
                bin_ = media.get_element()
                src = bin_.get_by_name("pay2" if a.audio else "pay1")
                push_onvif(src, a.onvif)

        factory.connect("media-configure", on_configure)
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

    def say(line):
        try:
            print(line, flush=True)
        except BrokenPipeError:
            pass  # nobody is counting

    def on_setup(_client, ctx):
        say(f"setup {ctx.uri.abspath}")

    def on_client(_server, client):
        say("client-connected")
        client.connect("setup-request", on_setup)

    server.connect("client-connected", on_client)
    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"ready {a.port}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
