//! Images (feature `images`): thumbnails and resizing with the `image` crate, behind
//! decompression-bomb limits — the dimensions are read from the header and checked before any
//! pixel is decoded, decoding itself runs under an allocation limit, and only the first frame
//! of an animation is decoded.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// What a decoded image may be at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLimits {
    /// Width or height in pixels (default 10 000).
    pub max_side: u32,
    /// Width × height (default 40 megapixels).
    pub max_pixels: u64,
    /// Bytes the decoder may allocate (default 256 MiB).
    pub max_alloc: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_side: 10_000,
            max_pixels: 40_000_000,
            max_alloc: 256 << 20,
        }
    }
}

/// The format of a thumbnail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// WebP (lossless, as the `image` crate encodes it).
    WebP,
    /// JPEG at this quality (1–100).
    Jpeg(u8),
    /// PNG.
    Png,
}

impl OutputFormat {
    /// Its MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::WebP => "image/webp",
            Self::Jpeg(_) => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Not an image this build decodes (PNG, JPEG, WebP, GIF).
    #[error("not a supported image")]
    Unsupported,
    /// Past the limits (a decompression bomb, or merely too large).
    #[error("the image is too large ({width}×{height})")]
    TooLarge {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// The header is fine but the pixel data is not (truncated, corrupt): the sender's fault.
    #[error("the image is damaged: {0}")]
    Damaged(String),
    /// Encoding the result failed.
    #[error("the image could not be processed: {0}")]
    Codec(String),
}

/// The image's dimensions, read from its header only (nothing decoded).
///
/// # Errors
///
/// [`ImageError::Unsupported`] when the format is not recognized or the header is broken.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| ImageError::Unsupported)?
        .into_dimensions()
        .map_err(|_| ImageError::Unsupported)
}

/// The image's dimensions from its header, refused when past `limits` (nothing decoded): the
/// check [`thumbnail`] makes first, for callers that refuse a picture before queueing it.
///
/// # Errors
///
/// [`ImageError::Unsupported`] for an unreadable header, [`ImageError::TooLarge`] past the
/// limits.
pub fn check_dimensions(bytes: &[u8], limits: ImageLimits) -> Result<(u32, u32), ImageError> {
    let (width, height) = dimensions(bytes)?;
    if width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(ImageError::TooLarge { width, height });
    }
    Ok((width, height))
}

/// A thumbnail fitting in `max_width` × `max_height` (aspect ratio kept, never enlarged),
/// encoded as `format`. The source's dimensions are checked against `limits` before decoding.
///
/// ```
/// use mortar_storage::images::{ImageLimits, OutputFormat, dimensions, thumbnail};
///
/// let mut png = Vec::new();
/// image::RgbImage::new(400, 200)
///     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
///     .unwrap();
/// let thumb = thumbnail(&png, 100, 100, OutputFormat::WebP, ImageLimits::default()).unwrap();
/// assert_eq!(dimensions(&thumb).unwrap(), (100, 50));
/// ```
///
/// # Errors
///
/// [`ImageError`]: unsupported, too large, or a codec failure.
pub fn thumbnail(
    bytes: &[u8],
    max_width: u32,
    max_height: u32,
    format: OutputFormat,
    limits: ImageLimits,
) -> Result<Vec<u8>, ImageError> {
    let (width, height) = check_dimensions(bytes, limits)?;
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| ImageError::Unsupported)?;
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits);
    // `decode` reads the first frame of an animated GIF or WebP only.
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => ImageError::TooLarge { width, height },
        other => ImageError::Damaged(other.to_string()),
    })?;
    let small = if width > max_width || height > max_height {
        image.resize(
            max_width.max(1),
            max_height.max(1),
            image::imageops::FilterType::Triangle,
        )
    } else {
        image
    };
    let mut out = Cursor::new(Vec::new());
    match format {
        OutputFormat::WebP => small
            .to_rgba8()
            .write_to(&mut out, ImageFormat::WebP)
            .map_err(|e| ImageError::Codec(e.to_string()))?,
        OutputFormat::Png => small
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|e| ImageError::Codec(e.to_string()))?,
        OutputFormat::Jpeg(quality) => {
            let encoder =
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100));
            small
                .to_rgb8()
                .write_with_encoder(encoder)
                .map_err(|e| ImageError::Codec(e.to_string()))?;
        }
    }
    Ok(out.into_inner())
}

impl From<ImageError> for mortar_core::Problem {
    fn from(err: ImageError) -> Self {
        match err {
            ImageError::Unsupported | ImageError::TooLarge { .. } | ImageError::Damaged(_) => {
                mortar_core::Problem::mortar(
                    http::StatusCode::UNPROCESSABLE_ENTITY,
                    "upload-refused",
                    "The file was refused",
                )
                .with_detail(err.to_string())
            }
            ImageError::Codec(_) => mortar_core::Problem::internal_error().with_source(err),
        }
    }
}
