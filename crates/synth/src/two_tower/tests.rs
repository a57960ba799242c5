//! Statistical and end-to-end tests of the two-tower generator: the planted taste is real and
//! learnable (the hidden model and a simple learner beat popularity, and without taste they do
//! not), the interactions have MovieLens' shape, and the written dataset is the converter's.

use super::recall::recalls;
use super::*;

/// A small world: 600 users, 1 000 items, 60 000 interactions.
fn small(preference: f64) -> TwoTowerConfig {
    TwoTowerConfig {
        rows: 60_000,
        users: Some(600),
        items: Some(1_000),
        preference,
        seed: 5,
        ..TwoTowerConfig::default()
    }
}

/// Recall@K of item-to-item co-occurrence (cosine over training users), a learner that sees
/// only the training interactions.
fn cooccurrence_recall(world: &World, picks: &[Vec<Pick>], leave_last: usize) -> Recalls {
    let n = world.items.len();
    let trains: Vec<&[Pick]> = picks
        .iter()
        .map(|p| &p[..p.len() - held_out(leave_last, p.len())])
        .collect();
    let mut together = vec![0f32; n * n];
    let mut counts = vec![0f32; n];
    for train in &trains {
        for a in train.iter() {
            counts[a.item] += 1.0;
            for b in train.iter() {
                together[a.item * n + b.item] += 1.0;
            }
        }
    }
    let mut sum = [0.0; CUTOFFS.len()];
    let mut users = 0;
    for (user_picks, train) in picks.iter().zip(&trains) {
        let held = user_picks.len() - train.len();
        if held == 0 {
            continue;
        }
        let mut seen = vec![false; n];
        let mut relevant = vec![false; n];
        train.iter().for_each(|p| seen[p.item] = true);
        user_picks[train.len()..]
            .iter()
            .for_each(|p| relevant[p.item] = true);
        let mut scores = vec![0f64; n];
        for p in train.iter() {
            let row = &together[p.item * n..(p.item + 1) * n];
            for (i, s) in scores.iter_mut().enumerate() {
                let norm = (counts[i] * counts[p.item]).sqrt().max(1.0);
                *s += f64::from(row[i] / norm);
            }
        }
        let r = recalls(&scores, &seen, &relevant, held);
        sum.iter_mut().zip(r).for_each(|(s, x)| *s += x);
        users += 1;
    }
    sum.map(|s| s / users as f64)
}

#[test]
fn hidden_taste_beats_popularity_and_is_learnable() {
    let config = small(TwoTowerConfig::default().preference);
    let world = World::new(&config);
    let picks = interactions(&config, &world);
    let report = evaluate(&world, &picks, config.leave_last);
    let learned = cooccurrence_recall(&world, &picks, config.leave_last);
    eprintln!("{report:?} learned {learned:?}");
    assert_eq!(report.users, 600);
    // At K = 100 of 1 000 items both saturate; K = 10 shows the gap best.
    assert!(
        report.hidden[2] > 1.5 * report.popularity[2]
            && report.hidden[0] > 2.5 * report.popularity[0],
        "hidden {:?} vs popularity {:?}",
        report.hidden,
        report.popularity
    );
    // A learner that only sees training interactions finds the taste too.
    assert!(
        learned[2] > 1.2 * report.popularity[2],
        "co-occurrence {learned:?} vs popularity {:?}",
        report.popularity
    );
}

#[test]
fn without_taste_nothing_beats_popularity() {
    let config = small(0.0);
    let world = World::new(&config);
    let picks = interactions(&config, &world);
    let report = evaluate(&world, &picks, config.leave_last);
    let learned = cooccurrence_recall(&world, &picks, config.leave_last);
    eprintln!("{report:?} learned {learned:?}");
    // The hidden score is then the popularity itself: both rank the same way, up to noise in
    // the counts.
    assert!(
        (report.hidden[2] - report.popularity[2]).abs() < 0.1 * report.popularity[2],
        "{report:?}"
    );
    assert!(learned[2] < 1.05 * report.popularity[2], "{learned:?}");
}

#[test]
fn interactions_are_distinct_timed_and_add_up() {
    let config = TwoTowerConfig {
        rows: 20_000,
        users: Some(150),
        items: Some(2_000),
        ..TwoTowerConfig::default()
    };
    let world = World::new(&config);
    let picks = interactions(&config, &world);
    assert_eq!(picks.iter().map(Vec::len).sum::<usize>(), 20_000);
    assert!(picks.iter().all(|p| p.len() >= 20 && p.len() <= 2_000));
    for user_picks in &picks {
        let mut items: Vec<usize> = user_picks.iter().map(|p| p.item).collect();
        items.sort_unstable();
        items.dedup();
        assert_eq!(items.len(), user_picks.len(), "an item picked twice");
        assert!(user_picks.windows(2).all(|w| w[0].time < w[1].time));
        assert!(user_picks.iter().all(|p| (1..=5).contains(&p.rating)));
    }
    // Popularity skew: the most picked tenth of the items gets a large share of the picks.
    let mut counts = vec![0usize; 2_000];
    picks.iter().flatten().for_each(|p| counts[p.item] += 1);
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: usize = counts[..200].iter().sum();
    assert!(top > 20_000 / 3, "top 10% of items hold {top} picks");
    let mean = picks
        .iter()
        .flatten()
        .map(|p| f64::from(p.rating))
        .sum::<f64>()
        / 20_000.0;
    assert!((3.0..4.0).contains(&mean), "mean rating {mean}");
}

#[test]
fn writes_the_movielens_converters_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tt");
    let config = TwoTowerConfig {
        rows: 5_000,
        ..TwoTowerConfig::default()
    };
    let manifest = generate(&config, &out, false).unwrap();
    assert_eq!(manifest, DatasetManifest::load(&out).unwrap());
    assert_eq!(manifest.source, "synth:two-tower");
    let names: Vec<&str> = manifest.sparse.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "user_id",
            "item_id",
            "user_age",
            "user_gender",
            "user_occupation",
            "user_zip",
            "item_genres",
            "item_year"
        ]
    );
    assert!(manifest.sparse.iter().all(|s| s.vocab.is_some()));
    assert_eq!(manifest.label.as_deref(), Some("label"));
    let (train, test) = (
        manifest.splits["train"].samples,
        manifest.splits["test"].samples,
    );
    assert_eq!(train + test, 5_000);
    // 50 users, each with 10 held out.
    assert_eq!(test, 500);
    for key in ["hidden_recall@100", "popularity_recall@100"] {
        let value = manifest.extra[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&value), "{key} = {value}");
    }
    let items = std::fs::read_to_string(out.join("items.tsv")).unwrap();
    assert!(items.starts_with("index\titem_id\ttitle\tyear\tgenres\n"));
    assert!(items.contains("\tSynthetic Movie 1 ("), "{}", &items[..200]);
    assert!(out.join("vocab/user.txt").is_file());
    // Nothing else is left beside the dataset.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let again = generate(&config, &out, false).unwrap_err().to_string();
    assert!(again.contains("pass --force to replace it"), "{again}");
    generate(&config, &out, true).unwrap();
}

#[test]
fn identical_bytes_whatever_the_thread_count() {
    let config = TwoTowerConfig {
        rows: 8_000,
        seed: 11,
        ..TwoTowerConfig::default()
    };
    let trees = crate::testutil::with_thread_counts(|out| {
        generate(&config, out, false).unwrap();
    });
    assert_eq!(trees[0], trees[1]);
    assert!(trees[0].len() > 10);
}
