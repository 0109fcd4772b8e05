//! mortar-i18n beside fluent-bundle used directly and rust-i18n's `t!`, same texts, same run:
//! a plain message, and a message with two arguments and a plural; and negotiating a typical
//! `Accept-Language` header.
//!
//! rust-i18n has no plural rules: its side picks the key by count in code, as its users do.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fluent_bundle::{FluentArgs, FluentBundle, FluentResource};
use mortar_i18n::{Args, I18n};

rust_i18n::i18n!("locales", fallback = "en");

const FTL: &str = "hello = Hello, world!
items = { $count ->
    [one] One item in { $dir }
   *[other] { $count } items in { $dir }
}
";

fn bench(c: &mut Criterion) {
    let i18n = I18n::builder()
        .default_locale("en")
        .add_ftl("en", FTL)
        .add_ftl("de", FTL)
        .add_ftl("fr", FTL)
        .add_ftl("ar", FTL)
        .build()
        .expect("catalog");
    let en = i18n.locale("en");

    let mut fluent: FluentBundle<FluentResource> =
        FluentBundle::new(vec!["en".parse().expect("langid")]);
    fluent.set_use_isolating(false);
    fluent
        .add_resource(FluentResource::try_new(FTL.to_owned()).expect("ftl"))
        .expect("resource");
    rust_i18n::set_locale("en");

    // Same output on every side before measuring.
    let ours_args = en.format("items", &Args::new().with("count", 5).with("dir", "/tmp"));
    assert_eq!(ours_args, "5 items in /tmp");
    assert_eq!(
        rust_i18n::t!("items_other", count = 5, dir = "/tmp"),
        "5 items in /tmp"
    );

    let mut group = c.benchmark_group("i18n_plain");
    group.bench_function("mortar_i18n", |b| {
        b.iter(|| black_box(en.message(black_box("hello"))));
    });
    group.bench_function("fluent_bundle", |b| {
        b.iter(|| {
            let message = fluent.get_message(black_box("hello")).expect("message");
            let mut errors = Vec::new();
            black_box(fluent.format_pattern(message.value().expect("value"), None, &mut errors))
        });
    });
    group.bench_function("rust_i18n", |b| {
        b.iter(|| black_box(rust_i18n::t!("hello")));
    });
    group.finish();

    let mut group = c.benchmark_group("i18n_args_plural");
    group.bench_function("mortar_i18n", |b| {
        b.iter(|| {
            let args = Args::new()
                .with("count", black_box(5))
                .with("dir", black_box("/tmp"));
            black_box(en.format(black_box("items"), &args).len())
        });
    });
    group.bench_function("fluent_bundle", |b| {
        b.iter(|| {
            let mut args = FluentArgs::new();
            args.set("count", black_box(5));
            args.set("dir", black_box("/tmp"));
            let message = fluent.get_message(black_box("items")).expect("message");
            let mut errors = Vec::new();
            black_box(
                fluent
                    .format_pattern(message.value().expect("value"), Some(&args), &mut errors)
                    .len(),
            )
        });
    });
    group.bench_function("rust_i18n", |b| {
        b.iter(|| {
            let count = black_box(5);
            let dir = black_box("/tmp");
            let text = if count == 1 {
                rust_i18n::t!("items_one", dir = dir)
            } else {
                rust_i18n::t!("items_other", count = count, dir = dir)
            };
            black_box(text.len())
        });
    });
    group.finish();

    let mut group = c.benchmark_group("i18n_negotiate");
    group.bench_function("mortar_i18n", |b| {
        b.iter(|| black_box(i18n.negotiate(black_box("de-CH,de;q=0.9,en;q=0.8,fr;q=0.5"))));
    });
    // Where the time goes: parsing the header is most of it.
    group.bench_function("parse_only", |b| {
        b.iter(|| {
            black_box(mortar_i18n::parse_accept_language(black_box(
                "de-CH,de;q=0.9,en;q=0.8,fr;q=0.5",
            )))
        });
    });
    group.bench_function("locale_of_one_range", |b| {
        b.iter(|| black_box(i18n.locale(black_box("de-CH"))));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
