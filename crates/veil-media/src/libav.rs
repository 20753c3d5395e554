//! libavcodec's H.264 decoder for the masking pipeline (cargo feature
//! `libav`): about twice as fast as OpenH264's on CABAC/High streams.
//!
//! It links the system's FFmpeg libraries (Debian bookworm: 5.1) through
//! `ffmpeg-next`. It decodes on the calling thread only (`thread_count` 1:
//! one camera costs one core at most), takes one access unit (Annex B) per
//! call and hands out pictures in display order, their planes lent straight
//! from libavcodec's frame (no copy). Only 8-bit 4:2:0 is accepted (the
//! limited- and full-range variants); anything else is
//! [`Error::Unsupported`]. Whatever libavcodec refuses is [`Error::Codec`].

use std::sync::Once;

use ff::codec::threading;
use ff::format::Pixel;
use ff::util::error::EAGAIN;
use ffmpeg_next as ff;

use crate::masking::{DecodedPlanes, PictureDecoder};
use crate::Error;

/// libavcodec's H.264 decoder, single-threaded.
pub struct LibavDecoder {
    decoder: ff::decoder::Video,
    frame: ff::frame::Video,
}

fn codec_err(what: &'static str) -> impl Fn(ff::Error) -> Error {
    move |e| Error::Codec(format!("libavcodec {what}: {e}"))
}

impl LibavDecoder {
    /// A decoder for H.264, on the calling thread only.
    pub fn new() -> Result<LibavDecoder, Error> {
        static INIT: Once = Once::new();
        INIT.call_once(|| {
            // Fills the crate's table of error messages (nothing else with
            // FFmpeg 5; it cannot fail).
            let _ = ff::init();
            // libavcodec reports damaged streams on stderr; the pipeline
            // returns them as errors instead, so only fatal messages are left.
            ff::util::log::set_level(ff::util::log::Level::Fatal);
        });
        let codec = ff::decoder::find(ff::codec::Id::H264)
            .ok_or_else(|| Error::Unsupported("this libavcodec has no H.264 decoder".into()))?;
        let mut context = ff::codec::Context::new_with_codec(codec);
        context.set_threading(threading::Config {
            kind: threading::Type::None,
            count: 1,
            ..Default::default()
        });
        let decoder = context
            .decoder()
            .open_as(codec)
            .and_then(|d| d.video())
            .map_err(codec_err("cannot open its H.264 decoder"))?;
        Ok(LibavDecoder {
            decoder,
            frame: ff::frame::Video::empty(),
        })
    }

    /// Hands out every picture the decoder has ready.
    fn receive(&mut self, emit: &mut dyn FnMut(DecodedPlanes<'_>)) -> Result<(), Error> {
        loop {
            match self.decoder.receive_frame(&mut self.frame) {
                Ok(()) => lend(&self.frame, emit)?,
                Err(ff::Error::Other { errno }) if errno == EAGAIN => return Ok(()),
                Err(ff::Error::Eof) => return Ok(()),
                Err(e) => return Err(codec_err("cannot decode the camera's video")(e)),
            }
        }
    }
}

/// Lends a decoded picture's planes to `emit`, as they lie in libavcodec's
/// frame.
fn lend(frame: &ff::frame::Video, emit: &mut dyn FnMut(DecodedPlanes<'_>)) -> Result<(), Error> {
    match frame.format() {
        // The same layout; the second is full range (a flag in the SPS).
        Pixel::YUV420P | Pixel::YUVJ420P => {}
        other => {
            return Err(Error::Unsupported(format!(
                "pictures in {other:?}; only 8-bit 4:2:0 is supported"
            )))
        }
    }
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    if w == 0 || h == 0 {
        return Err(Error::Codec("libavcodec returned an empty picture".into()));
    }
    // `data(i)` covers `stride × plane height` bytes of plane i, which holds
    // every row the pipeline reads (width, or half of it rounded up, bytes
    // of each).
    emit(DecodedPlanes {
        size: (w, h),
        planes: [frame.data(0), frame.data(1), frame.data(2)],
        strides: [frame.stride(0), frame.stride(1), frame.stride(2)],
        pts: frame.pts(),
    });
    Ok(())
}

impl LibavDecoder {
    fn send(
        &mut self,
        annexb: &[u8],
        pts: Option<i64>,
        emit: &mut dyn FnMut(DecodedPlanes<'_>),
    ) -> Result<(), Error> {
        if annexb.is_empty() {
            // An empty packet would mean "end of stream" to libavcodec.
            return Ok(());
        }
        // A copy, because libavcodec reads a few bytes of padding past the
        // end of a packet, which `Packet::copy` adds. Its time comes back
        // on its picture, whatever the reordering.
        let mut packet = ff::Packet::copy(annexb);
        packet.set_pts(pts);
        loop {
            match self.decoder.send_packet(&packet) {
                Ok(()) => break,
                // Its output is full: take the pictures, then send again.
                // Never seen with one packet in and everything taken out each
                // time, but legal.
                Err(ff::Error::Other { errno }) if errno == EAGAIN => {
                    let mut got = false;
                    self.receive(&mut |p| {
                        got = true;
                        emit(p)
                    })?;
                    if !got {
                        return Err(Error::Codec(
                            "libavcodec takes no more input and has no picture to give".into(),
                        ));
                    }
                }
                Err(e) => return Err(codec_err("cannot decode the camera's video")(e)),
            }
        }
        self.receive(emit)
    }
}

impl PictureDecoder for LibavDecoder {
    fn decode(
        &mut self,
        annexb: &[u8],
        emit: &mut dyn FnMut(DecodedPlanes<'_>),
    ) -> Result<(), Error> {
        self.send(annexb, None, emit)
    }

    fn decode_at(
        &mut self,
        annexb: &[u8],
        pts: i64,
        emit: &mut dyn FnMut(DecodedPlanes<'_>),
    ) -> Result<(), Error> {
        self.send(annexb, Some(pts), emit)
    }

    fn flush(&mut self, emit: &mut dyn FnMut(DecodedPlanes<'_>)) -> Result<(), Error> {
        let sent = self
            .decoder
            .send_eof()
            .map_err(codec_err("cannot drain its decoder"));
        let received = sent.and_then(|()| self.receive(emit));
        // Back to a fresh state, so that another stream can follow (after
        // end of stream libavcodec would refuse more input).
        self.decoder.flush();
        received
    }
}
