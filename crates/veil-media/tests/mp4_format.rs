//! Byte-level checks of the MP4 muxers: golden files pin the exact format, and a small
//! box walker checks sizes and offsets.

use veil_media::mp4::{fmp4_fragment, fmp4_init, progressive_header, Chunk, Sample};
use veil_media::VideoParams;

/// SPS/PPS as produced by the synthetic camera's encoder at 320x240.
fn params() -> VideoParams {
    let sps = [
        0x67, 0x42, 0xc0, 0x14, 0x8c, 0x68, 0x14, 0x1f, 0x20, 0x1e, 0x11, 0x08, 0xd4,
    ];
    let p = VideoParams::from_sps_pps(&sps, &[0x68, 0xce, 0x3c, 0x80]).unwrap();
    assert_eq!((p.width, p.height), (320, 240));
    assert_eq!(p.rfc6381_codec(), "avc1.42c014");
    p
}

fn s(size: u32, duration_90k: u32, is_key: bool) -> Sample {
    Sample::new(size, duration_90k, is_key)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares against `tests/golden/NAME.hex`; `VEIL_UPDATE_GOLDEN=1` rewrites the file.
fn golden(name: &str, bytes: &[u8]) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.hex"));
    let actual = hex(bytes);
    if std::env::var_os("VEIL_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, format!("{actual}\n")).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        actual,
        expected.trim(),
        "{name} bytes changed; if intended, rerun with VEIL_UPDATE_GOLDEN=1"
    );
}

/// Top-level boxes of `data` as (type, start, size); asserts they tile `data` exactly
/// when `whole` is set.
fn boxes(data: &[u8], whole: bool) -> Vec<(String, usize, u64)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 8 <= data.len() {
        let mut size = u64::from(u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()));
        let kind = String::from_utf8_lossy(&data[pos + 4..pos + 8]).into_owned();
        if size == 1 {
            size = u64::from_be_bytes(data[pos + 8..pos + 16].try_into().unwrap());
        }
        out.push((kind, pos, size));
        if size < 8 || pos as u64 + size > data.len() as u64 {
            break;
        }
        pos += size as usize;
    }
    if whole {
        assert_eq!(pos, data.len(), "boxes do not tile the data: {out:?}");
    }
    out
}

/// The payload of the first box of type `kind` anywhere below `data` (container boxes
/// are searched by looking for the type tag, which is fine for these small headers).
fn find<'a>(data: &'a [u8], kind: &str) -> &'a [u8] {
    let i = data
        .windows(4)
        .position(|w| w == kind.as_bytes())
        .unwrap_or_else(|| panic!("no {kind} box"));
    let size = u32::from_be_bytes(data[i - 4..i].try_into().unwrap()) as usize;
    &data[i + 4..i - 4 + size]
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(b[i..i + 4].try_into().unwrap())
}

#[test]
fn golden_progressive_header() {
    let p = params();
    let a = [
        s(1000, 3600, true),
        s(300, 3600, false),
        s(250, 3600, false),
    ];
    let b = [s(900, 3000, true), s(200, 3000, false)];
    let chunks = [
        Chunk {
            params: 0,
            samples: &a,
        },
        Chunk {
            params: 0,
            samples: &a,
        },
        Chunk {
            params: 1,
            samples: &b,
        },
    ];
    let header = progressive_header(&[p.clone(), p], &chunks);
    golden("progressive_header", &header);
}

#[test]
fn golden_fmp4() {
    let p = params();
    golden("fmp4_init", &fmp4_init(&p));
    let samples = [s(6, 3600, true), s(3, 3600, false), s(4, 3603, false)];
    let data: Vec<u8> = (1..=13).collect();
    golden(
        "fmp4_fragment",
        &fmp4_fragment(7, 90_000 * 3600 * 24 * 365, &samples, &data),
    );
}

#[test]
fn progressive_layout_and_offsets() {
    let p = params();
    let a = [s(10, 3000, true), s(20, 3000, false)];
    let b = [s(5, 6000, true)];
    let chunks = [
        Chunk {
            params: 0,
            samples: &a,
        },
        Chunk {
            params: 0,
            samples: &[],
        },
        Chunk {
            params: 0,
            samples: &b,
        },
    ];
    let header = progressive_header(std::slice::from_ref(&p), &chunks);
    let top = boxes(&header, false);
    let kinds: Vec<&str> = top.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(kinds, ["ftyp", "moov", "mdat"]);
    let (_, mdat_pos, mdat_size) = top[2];
    assert_eq!(
        mdat_pos + 8,
        header.len(),
        "header ends with the mdat header"
    );
    assert_eq!(mdat_size, 8 + 35);

    let co64 = find(&header, "co64");
    assert_eq!(u32_at(co64, 4), 2, "empty chunks are left out");
    let off0 = u64::from_be_bytes(co64[8..16].try_into().unwrap());
    let off1 = u64::from_be_bytes(co64[16..24].try_into().unwrap());
    assert_eq!(off0, header.len() as u64);
    assert_eq!(off1, header.len() as u64 + 30);

    let stts = find(&header, "stts");
    assert_eq!(
        &stts[4..],
        &[0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0x0b, 0xb8, 0, 0, 0, 1, 0, 0, 0x17, 0x70]
    );
    let stss = find(&header, "stss");
    assert_eq!(&stss[4..], &[0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3]);
    let stsc = find(&header, "stsc");
    assert_eq!(
        &stsc[4..],
        &[0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1]
    );
    let mvhd = find(&header, "mvhd");
    assert_eq!(u32_at(mvhd, 12), 90_000, "timescale");
    assert_eq!(u32_at(mvhd, 16), 12_000, "duration");
    let avcc = find(&header, "avcC");
    assert_eq!(avcc, &p.avc_decoder_config()[..]);
}

#[test]
fn progressive_uses_largesize_beyond_4gib() {
    let p = params();
    let big: Vec<Sample> = (0..3).map(|i| s(2_000_000_000, 3000, i == 0)).collect();
    let chunks = [
        Chunk {
            params: 0,
            samples: &big,
        },
        Chunk {
            params: 0,
            samples: &big[..1],
        },
    ];
    let header = progressive_header(std::slice::from_ref(&p), &chunks);
    let n = header.len();
    assert_eq!(
        &header[n - 16..n - 8],
        &[0, 0, 0, 1, b'm', b'd', b'a', b't']
    );
    let largesize = u64::from_be_bytes(header[n - 8..].try_into().unwrap());
    assert_eq!(largesize, 16 + 8_000_000_000);
    let co64 = find(&header, "co64");
    let off1 = u64::from_be_bytes(co64[16..24].try_into().unwrap());
    assert_eq!(off1, n as u64 + 6_000_000_000);
}

#[test]
fn fragment_layout() {
    let samples = [s(3, 3000, true), s(2, 3000, false)];
    let data = [1, 2, 3, 4, 5];
    let frag = fmp4_fragment(42, 123_456_789_012, &samples, &data);
    let top = boxes(&frag, true);
    let kinds: Vec<&str> = top.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(kinds, ["moof", "mdat"]);
    assert_eq!(&frag[frag.len() - 5..], &data);
    let mfhd = find(&frag, "mfhd");
    assert_eq!(u32_at(mfhd, 4), 42);
    let tfhd = find(&frag, "tfhd");
    assert_eq!(u32_at(tfhd, 0), 0x0002_0000, "default-base-is-moof");
    let tfdt = find(&frag, "tfdt");
    assert_eq!(tfdt[0], 1, "tfdt version 1");
    assert_eq!(
        u64::from_be_bytes(tfdt[4..12].try_into().unwrap()),
        123_456_789_012
    );
    let trun = find(&frag, "trun");
    assert_eq!(u32_at(trun, 4), 2, "sample count");
    assert_eq!(
        u32_at(trun, 8) as usize,
        frag.len() - 5,
        "data offset from moof start"
    );
    assert_eq!(u32_at(trun, 20), 0x0200_0000, "key sample flags");
    assert_eq!(u32_at(trun, 32), 0x0101_0000, "non-key sample flags");

    let init = fmp4_init(&params());
    let kinds: Vec<String> = boxes(&init, true).into_iter().map(|b| b.0).collect();
    assert_eq!(kinds, ["ftyp", "moov"]);
    assert_eq!(&find(&init, "ftyp")[..4], b"iso5");
    let trex = find(&init, "trex");
    assert_eq!(u32_at(trex, 4), 1, "track id");
}

#[test]
fn composition_offsets_write_a_signed_ctts_and_trun() {
    let p = params();
    let mut samples = vec![s(10, 3600, true), s(10, 3600, false), s(10, 3600, false)];
    samples[1].composition_offset_90k = 7200;
    samples[2].composition_offset_90k = -3600;
    let h = progressive_header(
        std::slice::from_ref(&p),
        &[Chunk {
            params: 0,
            samples: &samples,
        }],
    );
    // ctts version 1, three runs of one: 0, 7200, -3600.
    let ctts = hex(b"ctts")
        + "01000000"
        + "00000003"
        + "0000000100000000"
        + "0000000100001c20"
        + "00000001fffff1f0";
    assert!(hex(&h).contains(&ctts), "no signed ctts");
    // Without offsets there is no ctts box at all (older bytes unchanged).
    let plain = [s(10, 3600, true), s(10, 3600, false)];
    let h = progressive_header(
        std::slice::from_ref(&p),
        &[Chunk {
            params: 0,
            samples: &plain,
        }],
    );
    assert!(!hex(&h).contains(&hex(b"ctts")));
    // fMP4: trun version 1 with the composition-offset flag.
    let f = fmp4_fragment(1, 0, &samples, &[0u8; 30]);
    let trun = hex(b"trun") + "01000f01";
    assert!(hex(&f).contains(&trun), "trun not version 1 with cts");
}
