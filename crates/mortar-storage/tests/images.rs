//! Thumbnails, and decompression bombs refused before decoding.
#![cfg(feature = "images")]

use std::io::Cursor;

use mortar_storage::images::{ImageError, ImageLimits, OutputFormat, dimensions, thumbnail};

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([x.to_le_bytes()[0], y.to_le_bytes()[0], 7])
    })
    .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
    .unwrap();
    out
}

#[test]
fn thumbnails_fit_keep_the_ratio_and_never_enlarge() {
    let source = png(640, 480);
    for (format, mime) in [
        (OutputFormat::WebP, "image/webp"),
        (OutputFormat::Jpeg(80), "image/jpeg"),
        (OutputFormat::Png, "image/png"),
    ] {
        let thumb = thumbnail(&source, 128, 128, format, ImageLimits::default()).unwrap();
        assert_eq!(dimensions(&thumb).unwrap(), (128, 96), "{mime}");
        assert_eq!(infer::get(&thumb).unwrap().mime_type(), mime);
    }
    let small = thumbnail(
        &png(50, 20),
        128,
        128,
        OutputFormat::Png,
        ImageLimits::default(),
    )
    .unwrap();
    assert_eq!(dimensions(&small).unwrap(), (50, 20));
    assert!(matches!(
        thumbnail(
            b"not an image",
            10,
            10,
            OutputFormat::Png,
            ImageLimits::default()
        ),
        Err(ImageError::Unsupported)
    ));
}

/// A PNG whose header claims 50 000 × 50 000 pixels (2.5 gigapixels, ~10 GB decoded) in a few
/// dozen bytes: refused from the header, nothing decoded.
#[test]
fn decompression_bombs_are_refused_from_the_header() {
    let mut bomb = png(1, 1);
    // IHDR's width and height follow the 8-byte signature, the chunk length and "IHDR".
    bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    // With the chunk's CRC (over its type and data) made right again, as a crafted file would.
    let crc = crc32fast::hash(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let err = thumbnail(&bomb, 100, 100, OutputFormat::WebP, ImageLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::TooLarge {
                width: 50_000,
                height: 50_000
            }
        ),
        "{err:?}"
    );
    let strict = ImageLimits {
        max_pixels: 1_000,
        ..ImageLimits::default()
    };
    assert!(matches!(
        thumbnail(&png(100, 100), 10, 10, OutputFormat::Png, strict),
        Err(ImageError::TooLarge { .. })
    ));
}

/// A picture whose header is fine but whose pixel data is cut short is the sender's fault: a
/// 422 refusal, not a server error.
#[test]
fn damaged_images_are_refused_not_failed() {
    let whole = png(64, 64);
    let cut = &whole[..whole.len() / 2];
    let err = thumbnail(cut, 16, 16, OutputFormat::Png, ImageLimits::default()).unwrap_err();
    assert!(matches!(err, ImageError::Damaged(_)), "{err:?}");
    let problem = mortar_core::Problem::from(err);
    assert_eq!(problem.status(), http::StatusCode::UNPROCESSABLE_ENTITY);
}
