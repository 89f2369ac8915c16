//! Uploaded images: what they really are (from their bytes, never their file name) and what they
//! carry besides pixels.
//!
//! A phone photo holds the camera, the time and often the GPS position where it was taken — in a
//! hospital, that can place a patient. [`sanitize_image`] keeps the pixels and drops the rest: EXIF
//! (with GPS), XMP, IPTC, ICC profiles, comments, embedded thumbnails and anything after the image's
//! end. JPEG, PNG and WebP are edited at the container level (the pixels are not re-encoded, so no
//! quality is lost); GIF frames are copied, still compressed, into a new file without extensions.

use std::collections::BTreeSet;

use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::png::Png;
use img_parts::riff::RiffContent;
use img_parts::webp::WebP;
use img_parts::{Bytes, ImageEXIF, ImageICC};

/// An image with its metadata removed.
#[derive(Clone, PartialEq, Eq)]
pub struct CleanImage {
    /// The cleaned file.
    pub bytes: Vec<u8>,
    /// Its type: `image/jpeg`, `image/png`, `image/webp` or `image/gif`.
    pub mime: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// What was removed, in words (`EXIF`, `XMP`, `ICC profile`, …), for the uploader to see.
    pub removed: Vec<String>,
}

impl std::fmt::Debug for CleanImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CleanImage")
            .field("bytes", &self.bytes.len())
            .field("mime", &self.mime)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("removed", &self.removed)
            .finish()
    }
}

/// What a file that cannot be attached turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// An empty file.
    Empty,
    /// HEIC/HEIF, the iPhone's default photo format.
    Heic,
    /// AVIF.
    Avif,
    /// A video (MP4, QuickTime).
    Video,
    /// An SVG drawing.
    Svg,
    /// A PDF document.
    Pdf,
    /// A TIFF image.
    Tiff,
    /// A BMP image.
    Bmp,
    /// Plain text.
    Text,
    /// A JPEG, PNG, WebP or GIF that is damaged or cut short.
    Damaged(&'static str),
    /// Anything else.
    Unknown,
}

impl Detected {
    /// What to tell the person who uploaded it.
    pub fn message(self) -> String {
        match self {
            Detected::Empty => "the file is empty".into(),
            Detected::Heic => "HEIC images are not supported; export as JPEG or PNG".into(),
            Detected::Avif => "AVIF images are not supported; export as JPEG or PNG".into(),
            Detected::Video => {
                "videos are not supported; attach a JPEG, PNG, WebP or GIF image".into()
            }
            Detected::Svg => {
                "SVG drawings are not supported (they can carry scripts); export as PNG".into()
            }
            Detected::Pdf => "PDF documents are not images; export the page as PNG or JPEG".into(),
            Detected::Tiff => "TIFF images are not supported; export as JPEG or PNG".into(),
            Detected::Bmp => "BMP images are not supported; export as PNG".into(),
            Detected::Text => {
                "this file is text, not an image; attach a JPEG, PNG, WebP or GIF image".into()
            }
            Detected::Damaged(kind) => {
                format!("this {kind} image is damaged or cut short; export it again")
            }
            Detected::Unknown => {
                "this file is not an image Rounds can attach; use JPEG, PNG, WebP or GIF".into()
            }
        }
    }
}

/// Why an upload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Not a JPEG, PNG, WebP or GIF that can be read.
    #[error("{}", .detected.message())]
    Unsupported {
        /// What the bytes turned out to be.
        detected: Detected,
    },
}

fn refuse<T>(detected: Detected) -> Result<T, ImageError> {
    Err(ImageError::Unsupported { detected })
}

/// Detects the image type from `bytes` and returns it without metadata; anything other than a
/// readable JPEG, PNG, WebP or GIF is refused with a message a person can act on.
pub fn sanitize_image(bytes: &[u8]) -> Result<CleanImage, ImageError> {
    match sniff(bytes) {
        Kind::Jpeg => clean_jpeg(bytes),
        Kind::Png => clean_png(bytes),
        Kind::WebP => clean_webp(bytes),
        Kind::Gif => clean_gif(bytes),
        Kind::Other(detected) => refuse(detected),
    }
}

enum Kind {
    Jpeg,
    Png,
    WebP,
    Gif,
    Other(Detected),
}

fn sniff(b: &[u8]) -> Kind {
    if b.is_empty() {
        return Kind::Other(Detected::Empty);
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Kind::Jpeg;
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Kind::Png;
    }
    if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        return Kind::WebP;
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Kind::Gif;
    }
    if b.get(4..8) == Some(b"ftyp") {
        let brand = b.get(8..12).unwrap_or_default();
        return Kind::Other(match brand {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"hevm" | b"hevs"
            | b"mif1" | b"msf1" => Detected::Heic,
            b"avif" | b"avis" => Detected::Avif,
            _ => Detected::Video,
        });
    }
    if b.starts_with(b"%PDF") {
        return Kind::Other(Detected::Pdf);
    }
    if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        return Kind::Other(Detected::Tiff);
    }
    if b.starts_with(b"BM") && b.len() > 14 {
        return Kind::Other(Detected::Bmp);
    }
    let head = &b[..b.len().min(4096)];
    // A cut in the middle of a character at the end of the sample is still text.
    let text = match std::str::from_utf8(head) {
        Ok(s) => Some(s),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    match text {
        Some(s) if s.to_ascii_lowercase().contains("<svg") => Kind::Other(Detected::Svg),
        Some(s)
            if !s
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            Kind::Other(Detected::Text)
        }
        _ => Kind::Other(Detected::Unknown),
    }
}

/// Size of a JFIF APP0 segment without its thumbnail: identifier, version, units, densities, thumbnail size.
const JFIF_LEN: usize = 14;

fn clean_jpeg(bytes: &[u8]) -> Result<CleanImage, ImageError> {
    let damaged = Detected::Damaged("JPEG");
    let mut jpeg = Jpeg::from_bytes(Bytes::copy_from_slice(bytes)).or_else(|_| refuse(damaged))?;
    let (width, height) = match jpeg.dimensions() {
        Some((w, h)) if w > 0 && h > 0 => (u32::from(w), u32::from(h)),
        _ => return refuse(damaged),
    };
    let mut removed = BTreeSet::new();
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[markers::P, markers::SOI]);
    let mut ended = false;
    for segment in jpeg.segments_mut().drain(..) {
        let marker = segment.marker();
        if marker == markers::APP0 && segment.contents().starts_with(b"JFIF\0") {
            let contents = segment.contents();
            if contents.len() > JFIF_LEN || contents.get(12..14).is_some_and(|t| t != [0, 0]) {
                removed.insert("JFIF thumbnail");
                let mut header = contents.slice(..contents.len().min(JFIF_LEN)).to_vec();
                header.resize(JFIF_LEN, 0);
                header[12] = 0;
                header[13] = 0;
                out.extend_from_slice(
                    &JpegSegment::new_with_contents(markers::APP0, Bytes::from(header))
                        .encoder()
                        .bytes(),
                );
                continue;
            }
        } else if let Some(name) = metadata_name(marker, segment.contents()) {
            removed.insert(name);
            continue;
        }
        if segment.has_entropy() {
            // The scan data runs to the end of the file: copy it up to the image's end marker,
            // dropping metadata between scans and whatever was appended after the image.
            let entropy = segment.encoder().bytes();
            let Some(end) = copy_scans(&entropy, &mut out, &mut removed) else {
                return refuse(damaged);
            };
            if end < entropy.len() {
                removed.insert("data after the end of the image");
            }
            ended = true;
            break;
        }
        out.extend_from_slice(&segment.encoder().bytes());
    }
    if !ended {
        return refuse(damaged);
    }
    Ok(CleanImage {
        bytes: out,
        mime: "image/jpeg",
        width,
        height,
        removed: names(removed),
    })
}

/// What a JPEG segment holds when it is metadata to drop; `None` for image data (and for Adobe's
/// segment, which says how the colour channels are encoded: without it colours change).
fn metadata_name(marker: u8, contents: &[u8]) -> Option<&'static str> {
    match marker {
        markers::APP14 if contents.starts_with(b"Adobe") => None,
        markers::APP1 if contents.starts_with(b"Exif\0") => {
            Some("EXIF (camera, time and GPS location)")
        }
        markers::APP1 if contents.starts_with(b"http://ns.adobe.com/") => Some("XMP"),
        markers::APP2 if contents.starts_with(b"ICC_PROFILE\0") => Some("ICC profile"),
        markers::APP2 if contents.starts_with(b"MPF\0") => Some("extra images (MPF)"),
        markers::APP13 => Some("IPTC"),
        markers::COM => Some("comment"),
        m if (markers::APP0..=markers::APP15).contains(&m) => Some("application data"),
        _ => None,
    }
}

/// Copies the JPEG data that starts with an encoded SOS segment (marker, header, scan data, and for
/// a progressive JPEG further tables and scans) into `out` up to and including its EOI marker;
/// returns how many input bytes that took, or `None` when there is no EOI (a file cut short).
/// Marker segments are stepped over by their length, so bytes inside them are never taken for a
/// marker; metadata segments among them are left out.
fn copy_scans(b: &[u8], out: &mut Vec<u8>, removed: &mut BTreeSet<&'static str>) -> Option<usize> {
    let (mut i, mut copied) = (0, 0);
    while i + 1 < b.len() {
        if b[i] != markers::P {
            i += 1;
            continue;
        }
        match b[i + 1] {
            // Stuffed zero byte and restart markers: still scan data.
            0x00 => i += 2,
            m if (markers::RST0..=markers::RST7).contains(&m) => i += 2,
            // A fill byte before a marker.
            markers::P => i += 1,
            markers::EOI => {
                out.extend_from_slice(&b[copied..i + 2]);
                return Some(i + 2);
            }
            marker => {
                let len = usize::from(u16::from_be_bytes([*b.get(i + 2)?, *b.get(i + 3)?]));
                let end = i
                    .checked_add(2 + len)
                    .filter(|&e| len >= 2 && e <= b.len())?;
                if let Some(name) = metadata_name(marker, &b[i + 4..end]) {
                    out.extend_from_slice(&b[copied..i]);
                    removed.insert(name);
                    copied = end;
                }
                i = end;
            }
        }
    }
    None
}

/// PNG chunks that describe pixels or animation; every other chunk (eXIf, iCCP, tEXt, zTXt, iTXt with
/// XMP, tIME, private chunks) is dropped.
const PNG_KEEP: [&[u8; 4]; 15] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"bKGD",
    b"pHYs", b"acTL", b"fcTL", b"fdAT", b"cICP",
];

fn clean_png(bytes: &[u8]) -> Result<CleanImage, ImageError> {
    let damaged = Detected::Damaged("PNG");
    let mut png = Png::from_bytes(Bytes::copy_from_slice(bytes)).or_else(|_| refuse(damaged))?;
    let complete = png.chunks().first().is_some_and(|c| &c.kind() == b"IHDR")
        && png.chunks().last().is_some_and(|c| &c.kind() == b"IEND")
        && png.chunks().iter().any(|c| &c.kind() == b"IDAT");
    let (width, height) = match png.dimensions() {
        Some((w, h)) if complete && w > 0 && h > 0 => (w, h),
        _ => return refuse(damaged),
    };
    let mut removed = BTreeSet::new();
    png.chunks_mut().retain(|chunk| {
        let kind = chunk.kind();
        let keep = PNG_KEEP.contains(&&kind);
        if !keep {
            removed.insert(match &kind {
                b"eXIf" => "EXIF (camera, time and GPS location)",
                b"iCCP" => "ICC profile",
                b"tEXt" | b"zTXt" | b"iTXt" => "text (comments, XMP)",
                b"tIME" => "modification time",
                _ => "application data",
            });
        }
        keep
    });
    let out = png.encoder().bytes().to_vec();
    Ok(CleanImage {
        bytes: out,
        mime: "image/png",
        width,
        height,
        removed: names(removed),
    })
}

fn clean_webp(bytes: &[u8]) -> Result<CleanImage, ImageError> {
    let damaged = Detected::Damaged("WebP");
    let mut webp = WebP::from_bytes(Bytes::copy_from_slice(bytes)).or_else(|_| refuse(damaged))?;
    let has_image = webp
        .chunks()
        .iter()
        .any(|c| matches!(&c.id(), b"VP8 " | b"VP8L" | b"ANMF"));
    let (width, height) = match webp.dimensions() {
        Some((w, h)) if has_image && w > 0 && h > 0 => (w, h),
        _ => return refuse(damaged),
    };
    let mut removed = BTreeSet::new();
    for (id, name) in [
        (b"EXIF", "EXIF (camera, time and GPS location)"),
        (b"XMP ", "XMP"),
        (b"ICCP", "ICC profile"),
    ] {
        if webp.has_chunk(*id) {
            removed.insert(name);
            webp.remove_chunks_by_id(*id);
        }
    }
    // These also bring the extended header's ICC and EXIF flags in line with the chunks left.
    webp.set_icc_profile(None);
    webp.set_exif(None);
    // The XMP flag is left alone by those: clear it so the header promises no XMP chunk.
    for chunk in webp.chunks_mut().iter_mut().filter(|c| &c.id() == b"VP8X") {
        if let RiffContent::Data(data) = chunk.content_mut() {
            let mut header = data.to_vec();
            if let Some(flags) = header.first_mut() {
                *flags &= !0b0000_0100;
            }
            *data = Bytes::from(header);
        }
    }
    let out = webp.encoder().bytes().to_vec();
    Ok(CleanImage {
        bytes: out,
        mime: "image/webp",
        width,
        height,
        removed: names(removed),
    })
}

/// Largest amount of memory the GIF reader may use for one upload.
const GIF_MEMORY_LIMIT: u64 = 64 * 1024 * 1024;

fn clean_gif(bytes: &[u8]) -> Result<CleanImage, ImageError> {
    let damaged = Detected::Damaged("GIF");
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    options.skip_frame_decoding(true);
    options.set_memory_limit(gif::MemoryLimit::Bytes(
        std::num::NonZeroU64::MIN.saturating_add(GIF_MEMORY_LIMIT - 1),
    ));
    let mut decoder = options.read_info(bytes).or_else(|_| refuse(damaged))?;
    let (width, height) = (decoder.width(), decoder.height());
    if width == 0 || height == 0 {
        return refuse(damaged);
    }
    let palette = decoder
        .global_palette()
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let mut frames = Vec::new();
    while let Some(frame) = decoder.read_next_frame().or_else(|_| refuse(damaged))? {
        frames.push(frame.clone());
    }
    if frames.is_empty() {
        return refuse(damaged);
    }
    let mut removed = BTreeSet::new();
    if decoder.xmp_metadata().is_some() {
        removed.insert("XMP");
    }
    if decoder.icc_profile().is_some() {
        removed.insert("ICC profile");
    }
    let repeat = decoder.repeat();
    let write = || -> Result<Vec<u8>, gif::EncodingError> {
        let mut encoder =
            gif::Encoder::new(Vec::with_capacity(bytes.len()), width, height, &palette)?;
        if frames.len() > 1 {
            encoder.set_repeat(repeat)?;
        }
        for frame in &frames {
            encoder.write_lzw_pre_encoded_frame(frame)?;
        }
        encoder.into_inner()
    };
    let out = write().or_else(|_| refuse(damaged))?;
    Ok(CleanImage {
        bytes: out,
        mime: "image/gif",
        width: u32::from(width),
        height: u32::from(height),
        removed: names(removed),
    })
}

fn names(set: BTreeSet<&str>) -> Vec<String> {
    set.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "tests build their images and fail loudly"
    )]

    use super::*;
    use proptest::prelude::*;

    /// A GPS position as an EXIF block carries it (degrees as rationals), recognisable in the output.
    const GPS_MARK: &[u8] = b"GPSLatitude 42/1 21/1 3600/100 N";

    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let encoder = jpeg_encoder::Encoder::new(&mut out, 80);
        let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height) * 3)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        encoder
            .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    /// `jpeg` with an EXIF segment holding a GPS block, an XMP packet and a comment after SOI,
    /// and a second "image" appended after its end.
    fn phone_jpeg() -> Vec<u8> {
        let plain = jpeg(16, 8);
        let segment = |marker: u8, body: &[u8]| {
            let mut s = vec![0xFF, marker];
            s.extend_from_slice(&u16::try_from(body.len() + 2).unwrap().to_be_bytes());
            s.extend_from_slice(body);
            s
        };
        let mut exif = b"Exif\0\0MM\0*\0\0\0\x08".to_vec();
        exif.extend_from_slice(GPS_MARK);
        let mut out = plain[..2].to_vec();
        out.extend(segment(0xE1, &exif));
        out.extend(segment(
            0xE1,
            b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>Patient room 12</x:xmpmeta>",
        ));
        out.extend(segment(0xFE, b"taken in ward B"));
        out.extend_from_slice(&plain[2..]);
        out.extend_from_slice(b"\xFF\xD8hidden second image GPS");
        out
    }

    fn decode_jpeg(bytes: &[u8]) -> (u16, u16, Vec<u8>) {
        let mut decoder = jpeg_decoder::Decoder::new(bytes);
        let pixels = decoder.decode().unwrap();
        let info = decoder.info().unwrap();
        (info.width, info.height, pixels)
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn jpeg_loses_exif_gps_xmp_comment_and_trailer_but_keeps_its_pixels() {
        let input = phone_jpeg();
        assert!(contains(&input, GPS_MARK));
        let clean = sanitize_image(&input).unwrap();
        assert_eq!(
            (clean.mime, clean.width, clean.height),
            ("image/jpeg", 16, 8)
        );
        for secret in [
            GPS_MARK,
            b"Exif".as_slice(),
            b"xmpmeta",
            b"ward B",
            b"hidden second image",
        ] {
            assert!(
                !contains(&clean.bytes, secret),
                "{} survived",
                String::from_utf8_lossy(secret)
            );
        }
        assert_eq!(
            clean.removed,
            [
                "EXIF (camera, time and GPS location)",
                "XMP",
                "comment",
                "data after the end of the image"
            ]
        );
        assert_eq!(
            decode_jpeg(&clean.bytes),
            decode_jpeg(&jpeg(16, 8)),
            "the pixels are untouched"
        );
        // Cleaning is idempotent: a clean image has nothing more to lose.
        let again = sanitize_image(&clean.bytes).unwrap();
        assert_eq!(again.bytes, clean.bytes);
        assert!(again.removed.is_empty(), "{:?}", again.removed);
    }

    #[test]
    fn truncated_jpeg_is_refused() {
        let input = jpeg(16, 16);
        let err = sanitize_image(&input[..input.len() - 40]).unwrap_err();
        assert_eq!(
            err,
            ImageError::Unsupported {
                detected: Detected::Damaged("JPEG")
            }
        );
        assert_eq!(
            err.to_string(),
            "this JPEG image is damaged or cut short; export it again"
        );
    }

    fn png_with_text() -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, 4, 3);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .add_text_chunk("Comment".into(), "GPS 42.3601 N, patient bay 4".into())
                .unwrap();
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(&[200; 4 * 3 * 3]).unwrap();
        }
        // An eXIf chunk with the GPS mark, right after IHDR (8-byte signature + 25-byte IHDR).
        let mut chunk = u32::try_from(GPS_MARK.len())
            .unwrap()
            .to_be_bytes()
            .to_vec();
        chunk.extend_from_slice(b"eXIf");
        chunk.extend_from_slice(GPS_MARK);
        let mut crc = crc_input(b"eXIf", GPS_MARK);
        chunk.append(&mut crc);
        out.splice(33..33, chunk);
        out
    }

    fn crc_input(kind: &[u8], data: &[u8]) -> Vec<u8> {
        // CRC-32 (ISO 3309) over type and data, as PNG requires.
        let mut crc = 0xFFFF_FFFF_u32;
        for &byte in kind.iter().chain(data) {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        (!crc).to_be_bytes().to_vec()
    }

    fn decode_png(bytes: &[u8]) -> Vec<u8> {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        buf
    }

    #[test]
    fn png_loses_exif_and_text_but_keeps_its_pixels() {
        let input = png_with_text();
        assert!(contains(&input, GPS_MARK) && contains(&input, b"patient bay"));
        let clean = sanitize_image(&input).unwrap();
        assert_eq!((clean.mime, clean.width, clean.height), ("image/png", 4, 3));
        assert!(!contains(&clean.bytes, GPS_MARK) && !contains(&clean.bytes, b"patient bay"));
        assert_eq!(
            clean.removed,
            [
                "EXIF (camera, time and GPS location)",
                "text (comments, XMP)"
            ]
        );
        assert_eq!(decode_png(&clean.bytes), decode_png(&input));
    }

    #[test]
    fn gif_is_rewritten_without_extensions() {
        let mut input = Vec::new();
        {
            let mut encoder =
                gif::Encoder::new(&mut input, 2, 2, &[0, 0, 0, 255, 255, 255]).unwrap();
            encoder
                .write_raw_extension(
                    gif::AnyExtension(0xFE),
                    &[b"shot at 42.36N ward B".as_slice()],
                )
                .unwrap();
            let frame = gif::Frame {
                width: 2,
                height: 2,
                buffer: vec![0, 1, 1, 0].into(),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).unwrap();
        }
        assert!(contains(&input, b"ward B"));
        let clean = sanitize_image(&input).unwrap();
        assert_eq!((clean.mime, clean.width, clean.height), ("image/gif", 2, 2));
        assert!(!contains(&clean.bytes, b"ward B"));
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::Indexed);
        let mut decoder = options.read_info(clean.bytes.as_slice()).unwrap();
        assert_eq!(
            &*decoder.read_next_frame().unwrap().unwrap().buffer,
            &[0, 1, 1, 0]
        );
    }

    #[test]
    fn webp_loses_exif_and_xmp() {
        // A lossless 1×1 WebP with an extended header announcing EXIF and XMP, and both chunks.
        let vp8l: &[u8] = &[
            0x2f, 0x00, 0x00, 0x00, 0x00, 0x07, 0x10, 0x11, 0x88, 0x88, 0x08,
        ];
        let chunk = |id: &[u8], data: &[u8]| {
            let mut c = id.to_vec();
            c.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
            c.extend_from_slice(data);
            if data.len() % 2 == 1 {
                c.push(0);
            }
            c
        };
        let mut body = b"WEBP".to_vec();
        body.extend(chunk(b"VP8X", &[0b0000_1100, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        body.extend(chunk(b"VP8L", vp8l));
        body.extend(chunk(b"EXIF", GPS_MARK));
        body.extend(chunk(b"XMP ", b"<x:xmpmeta>ward B</x:xmpmeta>"));
        let mut input = b"RIFF".to_vec();
        input.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        input.extend(body);
        let clean = sanitize_image(&input).unwrap();
        assert_eq!(
            (clean.mime, clean.width, clean.height),
            ("image/webp", 1, 1)
        );
        assert!(!contains(&clean.bytes, GPS_MARK) && !contains(&clean.bytes, b"ward B"));
        assert_eq!(
            clean.removed,
            ["EXIF (camera, time and GPS location)", "XMP"]
        );
        assert!(
            contains(&clean.bytes, vp8l),
            "the bitstream is copied as it was"
        );
        if &clean.bytes[12..16] == b"VP8X" {
            assert_eq!(
                clean.bytes[20] & 0b0000_1100,
                0,
                "the extended header promises no EXIF or XMP"
            );
        }
    }

    #[test]
    fn other_files_are_refused_in_words() {
        let cases: [(&[u8], &str); 8] = [
            (
                b"\0\0\0\x18ftypheic\0\0\0\0mif1heic",
                "HEIC images are not supported; export as JPEG or PNG",
            ),
            (
                b"\0\0\0\x1cftypavif",
                "AVIF images are not supported; export as JPEG or PNG",
            ),
            (
                b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script/></svg>",
                "SVG drawings are not supported (they can carry scripts); export as PNG",
            ),
            (
                b"%PDF-1.7\n",
                "PDF documents are not images; export the page as PNG or JPEG",
            ),
            (
                b"Patient: J. Smith, DOB 01/02/1960\n",
                "this file is text, not an image; attach a JPEG, PNG, WebP or GIF image",
            ),
            (b"", "the file is empty"),
            (
                b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0",
                "this PNG image is damaged or cut short; export it again",
            ),
            (
                b"\x00\x01\x02\x03garbage\xff",
                "this file is not an image Rounds can attach; use JPEG, PNG, WebP or GIF",
            ),
        ];
        for (bytes, message) in cases {
            assert_eq!(sanitize_image(bytes).unwrap_err().to_string(), message);
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = sanitize_image(&bytes);
        }

        #[test]
        fn never_panics_on_damaged_images(cut in 0usize..400, flip in 0usize..400, value in any::<u8>()) {
            for mut bytes in [phone_jpeg(), png_with_text()] {
                let at = flip % bytes.len();
                bytes[at] = value;
                bytes.truncate(bytes.len().saturating_sub(cut));
                let _ = sanitize_image(&bytes);
            }
        }

        #[test]
        fn random_bytes_after_a_signature_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..256), which in 0usize..4) {
            let head: &[u8] = [&[0xFF, 0xD8, 0xFF][..], b"\x89PNG\r\n\x1a\n", b"RIFF\x10\0\0\0WEBP", b"GIF89a"][which];
            let _ = sanitize_image(&[head, &tail].concat());
        }
    }
}
