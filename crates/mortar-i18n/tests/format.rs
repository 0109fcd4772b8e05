//! Formatting: Fluent semantics (selectors, references, terms, functions, fallbacks), CLDR
//! plurals in messages, numbers and dates per locale, isolation, pseudo-locale, completeness
//! checks and catalogs from a directory.

use mortar_i18n::{Args, Finding, I18n, Number, check_dir, t};
use time::macros::datetime;

const EN: &str = r#"
-brand = Mortar
    .gender = neuter
hello = Hello, { $name }!
welcome = Welcome to { -brand }.
brand-gender = { -brand.gender ->
    [neuter] It is
   *[other] They are
} ready.
items = { $count ->
    [0] No items
    [one] One item
   *[other] { $count } items
}
place = { NUMBER($n, type: "ordinal") ->
    [one] { $n }st
    [two] { $n }nd
    [few] { $n }rd
   *[other] { $n }th
}
price = Price: { NUMBER($amount, minimumFractionDigits: 2) }
plain-number = { NUMBER($n, useGrouping: "false") }
rounded = { NUMBER($n, maximumFractionDigits: 1) }
literal = { "quoted \u0041" } and { 1.50 }
ref = Say: { hello }
attr-ref = { login.placeholder }
login = Log in
    .placeholder = Your e-mail
gendered = { $gender ->
    [female] She
    [male] He
   *[other] They
} replied.
term-args = { -thing(count: 2) }
-thing = { $count ->
    [one] thing
   *[other] things
}
leak = { -leaky }
-leaky = { $name }
missing-var = Hi { $nobody }
missing-ref = { nothere } and { -nothere }
unknown-fn = { NOPE($x) }
cycle-a = { cycle-b }
cycle-b = { cycle-a }
date = On { DATETIME($when, dateStyle: "long") }
date-time = At { DATETIME($when, dateStyle: "short", timeStyle: "short") }
no-value =
    .only = attribute
"#;

fn i18n() -> I18n {
    I18n::builder()
        .default_locale("en")
        .add_ftl("en", EN)
        .add_ftl("de", "items = { $count ->\n    [one] Ein Artikel\n   *[other] { $count } Artikel\n}\nprice = Preis: { NUMBER($amount, minimumFractionDigits: 2) }\ndate = Am { DATETIME($when, dateStyle: \"long\") }")
        .add_ftl("ar", "items = { $count ->\n    [zero] لا عناصر\n    [one] عنصر واحد\n    [two] عنصران\n    [few] { $count } عناصر\n    [many] { $count } عنصرًا\n   *[other] { $count } عنصر\n}\nhello = مرحبا { $name }")
        .add_ftl("pl", "items = { $count ->\n    [one] { $count } plik\n    [few] { $count } pliki\n    [many] { $count } plików\n   *[other] { $count } pliku\n}")
        .build()
        .unwrap()
}

#[test]
fn fluent_semantics() {
    let i18n = i18n();
    let en = i18n.locale("en");
    assert_eq!(t!(en, "hello", name = "Ada"), "Hello, Ada!");
    assert_eq!(t!(en, "welcome"), "Welcome to Mortar.");
    assert_eq!(t!(en, "brand-gender"), "It is ready.");
    // A numeric key beats the plural category.
    assert_eq!(t!(en, "items", count = 0), "No items");
    assert_eq!(t!(en, "items", count = 1), "One item");
    assert_eq!(t!(en, "items", count = 1234), "1,234 items");
    // Visible fraction digits: "1.0 items", per CLDR.
    assert_eq!(
        en.format(
            "items",
            &Args::new().with("count", Number::from(1).with_min_fraction_digits(1))
        ),
        "1.0 items"
    );
    for (n, want) in [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (102, "102nd"),
    ] {
        assert_eq!(t!(en, "place", n = n), want);
    }
    assert_eq!(t!(en, "price", amount = 3.5), "Price: 3.50");
    assert_eq!(t!(en, "plain-number", n = 12345), "12345");
    assert_eq!(
        t!(en, "rounded", n = 2.25),
        "2.3",
        "half away from zero, as Intl"
    );
    assert_eq!(t!(en, "literal"), "quoted A and 1.50");
    assert_eq!(t!(en, "ref", name = "Bo"), "Say: Hello, Bo!");
    assert_eq!(t!(en, "attr-ref"), "Your e-mail");
    assert_eq!(en.attribute("login", "placeholder", None), "Your e-mail");
    assert_eq!(t!(en, "gendered", gender = "female"), "She replied.");
    assert_eq!(t!(en, "gendered", gender = "x"), "They replied.");
    assert_eq!(
        t!(en, "gendered"),
        "They replied.",
        "missing selector: default variant"
    );
    assert_eq!(t!(en, "term-args"), "things");
    // Terms do not see the message's variables.
    assert_eq!(t!(en, "leak", name = "secret"), "{$name}");
}

#[test]
fn broken_messages_fall_back_without_panicking() {
    let i18n = i18n();
    let en = i18n.locale("en");
    assert_eq!(t!(en, "missing-var"), "Hi {$nobody}");
    assert_eq!(t!(en, "missing-ref"), "{nothere} and {-nothere}");
    assert_eq!(t!(en, "unknown-fn", x = 1), "{NOPE()}");
    let cycle = t!(en, "cycle-a");
    assert!(cycle == "{cycle-a}" || cycle == "{cycle-b}", "{cycle}");
    assert_eq!(t!(en, "no-value"), "no-value");
    assert_eq!(t!(en, "not-a-message"), "not-a-message");
    assert_eq!(en.try_format("not-a-message", None, None), None);
    assert!(en.has_message("no-value", Some("only")));
    assert!(!en.has_message("no-value", None));
    // Billion laughs: expansion stops at Fluent's placeable limit.
    let mut source = String::from("lol0 = lol\n");
    for i in 1..12 {
        let p = i - 1;
        let refs = vec![format!("{{lol{p}}}"); 10].join(" ");
        source += &["lol", &i.to_string(), " = ", &refs, "\n"].concat();
    }
    let bomb = I18n::builder().add_ftl("en", source).build().unwrap();
    let out = bomb.locale("en").message("lol11").into_owned();
    assert!(out.len() < 10_000, "{}", out.len());
}

#[test]
fn plurals_and_numbers_per_locale() {
    let i18n = i18n();
    let ar = i18n.locale("ar");
    let arabic: Vec<String> = [0, 1, 2, 3, 11, 100]
        .iter()
        .map(|n| t!(ar, "items", count = *n).into_owned())
        .collect();
    assert_eq!(arabic[0], "لا عناصر");
    assert_eq!(arabic[1], "عنصر واحد");
    assert_eq!(arabic[2], "عنصران");
    assert!(arabic[3].ends_with(" عناصر"), "{}", arabic[3]);
    assert!(arabic[4].ends_with(" عنصرًا"), "{}", arabic[4]);
    assert!(arabic[5].ends_with(" عنصر"), "{}", arabic[5]);
    let pl = i18n.locale("pl");
    assert_eq!(t!(pl, "items", count = 1), "1 plik");
    assert_eq!(t!(pl, "items", count = 3), "3 pliki");
    assert_eq!(t!(pl, "items", count = 5), "5 plików");
    assert_eq!(t!(pl, "items", count = 22), "22 pliki");
    assert_eq!(
        pl.format("items", &Args::new().with("count", 1.5)),
        "1,5 pliku"
    );
    let de = i18n.locale("de");
    assert_eq!(t!(de, "price", amount = 1234.5), "Preis: 1.234,50");
    assert_eq!(de.format_number(-0.5), "-0,5");
    assert_eq!(
        i18n.locale("en").format_number(1e21),
        "1,000,000,000,000,000,000,000"
    );
}

#[test]
fn dates_per_locale() {
    let i18n = i18n();
    let when = datetime!(2026-03-05 14:30 UTC);
    assert_eq!(
        t!(i18n.locale("en"), "date", when = when),
        "On March 5, 2026"
    );
    assert_eq!(
        t!(i18n.locale("de"), "date", when = when),
        "Am 5. März 2026"
    );
    let short = t!(i18n.locale("en"), "date-time", when = when).into_owned();
    assert!(
        short.starts_with("At 3/5/26") && short.contains("2:30"),
        "{short}"
    );
    // A Unix timestamp works too.
    assert_eq!(
        t!(i18n.locale("en"), "date", when = 0),
        "On January 1, 1970"
    );
}

#[test]
fn isolation_marks_when_asked() {
    let i18n = I18n::builder()
        .use_isolating(true)
        .add_ftl("ar", "hello = مرحبا { $name }!")
        .build()
        .unwrap();
    assert_eq!(
        t!(i18n.locale("ar"), "hello", name = "Ada"),
        "مرحبا \u{2068}Ada\u{2069}!"
    );
    assert!(i18n.locale("ar").is_rtl());
}

#[test]
fn pseudo_locale_marks_every_catalog_string() {
    let i18n = I18n::builder()
        .default_locale("en")
        .add_ftl("en", "hello = Hello { $name }")
        .pseudo_locale("en-XA")
        .build()
        .unwrap();
    assert_eq!(
        t!(i18n.locale("en-XA"), "hello", name = "Ada"),
        "[Ħḗŀŀǿ ~~] Ada"
    );
    // Built-in messages too.
    let title = i18n
        .locale("en-XA")
        .message("problem-status-404")
        .into_owned();
    assert!(title.starts_with("[Ƞǿŧ"), "{title}");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let err = I18n::builder()
        .add_named_ftl("en", "main.ftl", "ok = fine\n\nbad = {\n")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("main.ftl:3"), "{err}");
    assert!(
        I18n::builder()
            .add_ftl("not a tag!", "a = b")
            .build()
            .is_err()
    );
    assert!(
        I18n::builder()
            .default_locale("fr")
            .add_ftl("en", "a = b")
            .build()
            .is_err()
    );
}

#[test]
fn directories_and_the_completeness_check() {
    let dir = std::env::temp_dir().join(format!("mortar-i18n-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("en")).unwrap();
    std::fs::create_dir_all(dir.join("de")).unwrap();
    std::fs::write(
        dir.join("en/main.ftl"),
        "hello = Hello { $name }\nbye = Bye\n",
    )
    .unwrap();
    std::fs::write(dir.join("en/more.ftl"), "extra = Extra\n").unwrap();
    std::fs::write(
        dir.join("de/main.ftl"),
        "hello = Hallo { $nom }\nbye = Tschüss\nold = Alt\n",
    )
    .unwrap();
    let i18n = I18n::builder()
        .default_locale("en")
        .load_dir(&dir)
        .build()
        .unwrap();
    assert_eq!(i18n.locales().collect::<Vec<_>>(), ["de", "en"]);
    assert_eq!(i18n.locale("de").message("bye"), "Tschüss");
    assert_eq!(i18n.locale("de").message("extra"), "Extra");
    let findings = check_dir(&dir, "en").unwrap();
    assert_eq!(findings.len(), 3, "{findings:?}");
    assert!(findings.contains(&Finding::Missing {
        locale: "de".into(),
        id: "extra".into()
    }));
    assert!(findings.contains(&Finding::Extra {
        locale: "de".into(),
        id: "old".into()
    }));
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::Variables { id, .. } if id == "hello"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        I18n::builder()
            .load_dir("/nonexistent/mortar")
            .build()
            .is_err()
    );
}

#[test]
fn builtin_catalogs_are_complete() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/builtin");
    let findings = check_dir(dir, "en").unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
    for lang in mortar_i18n::BUILTIN_LANGUAGES {
        // Each parses and formats the plural-rich messages without a fallback.
        let i18n = I18n::builder().add_ftl(lang, "").build().unwrap();
        let locale = i18n.locale(lang);
        for n in [0, 1, 2, 3, 11, 100] {
            let text = t!(locale, "validation-length-lower-than", min = n);
            assert!(!text.contains('{'), "{lang} {n}: {text}");
        }
    }
}

#[test]
fn the_check_command() {
    let dir = std::env::temp_dir().join(format!("mortar-i18n-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("en.ftl"), "a = A\nb = B { $x }\n").unwrap();
    std::fs::write(dir.join("de.ftl"), "a = A\n").unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mortar-i18n-check"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[dir.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("de: missing b"), "{stdout}");
    std::fs::write(dir.join("de.ftl"), "a = A\nb = B { $x }\n").unwrap();
    assert_eq!(
        run(&[dir.as_os_str(), "en".as_ref()]).status.code(),
        Some(0)
    );
    assert_eq!(run(&[]).status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
