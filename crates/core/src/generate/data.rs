//! Built-in word lists and weights the generator draws from: names, places, the product
//! catalogue's categories, payment methods and traffic sources.
//!
//! Everything here is plain ASCII except a few real city names. Nothing the clickstream writer
//! takes from here (event types, devices, referrers, landing pages, category slugs) contains a
//! quote, a backslash or a control character: it writes them into JSON without escaping.

/// First names (ASCII letters only, so e-mail local parts derive cleanly).
pub(super) const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Emma",
    "Matthew",
    "Olivia",
    "Lucas",
    "Sophie",
    "Liam",
    "Mia",
    "Noah",
    "Hannah",
    "Leon",
    "Chloe",
    "Mateo",
    "Lucia",
    "Arjun",
    "Priya",
    "Wei",
    "Yuki",
    "Carlos",
    "Ana",
    "Fatima",
    "Omar",
    "Ingrid",
    "Lars",
];

/// Last names; a few carry an apostrophe or a space, which e-mail addresses drop.
pub(super) const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Lee",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Lopez",
    "Hill",
    "Scott",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Schmidt",
    "Dubois",
    "Rossi",
    "Kumar",
    "Sharma",
    "Chen",
    "Tanaka",
    "Silva",
    "O'Brien",
    "Van Dijk",
    "Nowak",
    "Jensen",
];

/// E-mail domains with relative weights.
pub(super) const EMAIL_DOMAINS: &[(&str, f64)] = &[
    ("gmail.com", 34.0),
    ("outlook.com", 15.0),
    ("yahoo.com", 12.0),
    ("icloud.com", 10.0),
    ("hotmail.com", 8.0),
    ("proton.me", 5.0),
    ("mail.com", 5.0),
    ("gmx.de", 5.0),
    ("web.de", 3.0),
    ("orange.fr", 3.0),
];

/// A country: name, international dialling code, relative weight among customers, cities.
pub(super) struct Country {
    pub name: &'static str,
    pub dial_code: &'static str,
    pub weight: f64,
    pub cities: &'static [&'static str],
}

/// Countries customers live in.
pub(super) const COUNTRIES: &[Country] = &[
    Country {
        name: "United States",
        dial_code: "1",
        weight: 30.0,
        cities: &["New York", "Los Angeles", "Chicago", "Houston"],
    },
    Country {
        name: "United Kingdom",
        dial_code: "44",
        weight: 12.0,
        cities: &["London", "Manchester", "Birmingham", "Glasgow"],
    },
    Country {
        name: "Germany",
        dial_code: "49",
        weight: 10.0,
        cities: &["Berlin", "Munich", "Hamburg", "Cologne"],
    },
    Country {
        name: "France",
        dial_code: "33",
        weight: 8.0,
        cities: &["Paris", "Lyon", "Marseille", "Toulouse"],
    },
    Country {
        name: "Canada",
        dial_code: "1",
        weight: 8.0,
        cities: &["Toronto", "Vancouver", "Montreal", "Calgary"],
    },
    Country {
        name: "India",
        dial_code: "91",
        weight: 8.0,
        cities: &["Mumbai", "Bengaluru", "Delhi", "Chennai"],
    },
    Country {
        name: "Brazil",
        dial_code: "55",
        weight: 7.0,
        cities: &["São Paulo", "Rio de Janeiro", "Belo Horizonte"],
    },
    Country {
        name: "Australia",
        dial_code: "61",
        weight: 6.0,
        cities: &["Sydney", "Melbourne", "Brisbane"],
    },
    Country {
        name: "Spain",
        dial_code: "34",
        weight: 6.0,
        cities: &["Madrid", "Barcelona", "Valencia"],
    },
    Country {
        name: "Netherlands",
        dial_code: "31",
        weight: 5.0,
        cities: &["Amsterdam", "Rotterdam", "Utrecht"],
    },
];

/// A product category: its slug, list-price band in cents, share of the catalogue, and the
/// words its products are named, branded and supplied with.
pub(super) struct Category {
    pub slug: &'static str,
    pub code: &'static str,
    pub min_cents: i64,
    pub max_cents: i64,
    pub weight: f64,
    pub adjectives: &'static [&'static str],
    pub nouns: &'static [&'static str],
    pub brands: &'static [&'static str],
    pub suppliers: &'static [&'static str],
    pub blurb: &'static str,
}

/// The catalogue's categories (DummyJSON-style slugs).
pub(super) const CATEGORIES: &[Category] = &[
    Category {
        slug: "smartphones",
        code: "SMA",
        min_cents: 14_900,
        max_cents: 129_900,
        weight: 8.0,
        adjectives: &["Slim", "Ultra", "Compact", "Flagship", "Rugged", "Lite"],
        nouns: &["Smartphone", "5G Phone", "Foldable Phone", "Camera Phone"],
        brands: &["Apple", "Samsung", "Oppo", "Vivo", "Realme", "Google"],
        suppliers: &[
            "MobileHub Distribution",
            "Pacific Electronics",
            "TechSource Ltd",
        ],
        blurb: "Unlocked, dual SIM, with a two-year warranty.",
    },
    Category {
        slug: "electronics",
        code: "ELE",
        min_cents: 1_900,
        max_cents: 89_900,
        weight: 12.0,
        adjectives: &[
            "Wireless",
            "Portable",
            "Smart",
            "Noise-Cancelling",
            "Compact",
            "Ultra-Slim",
        ],
        nouns: &[
            "Headphones",
            "Speaker",
            "Monitor",
            "Keyboard",
            "Mouse",
            "Smartwatch",
            "Charger",
        ],
        brands: &["Sony", "Logitech", "JBL", "Anker", "Philips", "Asus"],
        suppliers: &["TechSource Ltd", "Pacific Electronics", "Nordic Gadgets AB"],
        blurb: "Ships with a USB-C cable and quick-start guide.",
    },
    Category {
        slug: "home-decoration",
        code: "HOM",
        min_cents: 900,
        max_cents: 14_900,
        weight: 10.0,
        adjectives: &[
            "Rustic",
            "Modern",
            "Handmade",
            "Ceramic",
            "Vintage",
            "Minimalist",
        ],
        nouns: &[
            "Vase",
            "Wall Clock",
            "Candle Set",
            "Photo Frame",
            "Table Lamp",
            "Mirror",
        ],
        brands: &["Casa Bella", "Nordhaus", "Loom & Leaf", "Urban Nest"],
        suppliers: &["HomeGoods Wholesale", "Artisan Imports", "Decor Direct"],
        blurb: "Adds warmth to any living room, bedroom or office.",
    },
    Category {
        slug: "groceries",
        code: "GRO",
        min_cents: 99,
        max_cents: 2_499,
        weight: 12.0,
        adjectives: &[
            "Organic",
            "Fresh",
            "Premium",
            "Roasted",
            "Free-Range",
            "Wholegrain",
        ],
        nouns: &[
            "Apples",
            "Coffee Beans",
            "Honey",
            "Olive Oil",
            "Eggs",
            "Almonds",
            "Green Tea",
        ],
        brands: &[
            "Green Valley",
            "Farm Fresh",
            "Nature's Basket",
            "Golden Harvest",
        ],
        suppliers: &["FreshFoods Co", "Valley Farms Cooperative", "Global Pantry"],
        blurb: "Sourced from trusted growers and packed for freshness.",
    },
    Category {
        slug: "beauty",
        code: "BEA",
        min_cents: 399,
        max_cents: 5_900,
        weight: 10.0,
        adjectives: &[
            "Hydrating",
            "Matte",
            "Volumizing",
            "Nourishing",
            "Long-Lasting",
            "Gentle",
        ],
        nouns: &[
            "Lipstick",
            "Mascara",
            "Face Cream",
            "Serum",
            "Eyeshadow Palette",
            "Cleanser",
        ],
        brands: &["Glow Lab", "Essence", "L'Aura", "Pure Skin"],
        suppliers: &["BeautyWorks Distribution", "Cosmetica SA", "Radiant Supply"],
        blurb: "Dermatologically tested and cruelty free.",
    },
    Category {
        slug: "fragrances",
        code: "FRA",
        min_cents: 2_500,
        max_cents: 19_900,
        weight: 6.0,
        adjectives: &["Classic", "Intense", "Fresh", "Midnight", "Floral", "Woody"],
        nouns: &["Eau de Parfum", "Eau de Toilette", "Cologne", "Body Mist"],
        brands: &["Chanel", "Dior", "Calvin Klein", "Gucci", "Versace"],
        suppliers: &["Scentral Distribution", "Maison Import", "Cosmetica SA"],
        blurb: "A long-lasting scent with top, heart and base notes.",
    },
    Category {
        slug: "furniture",
        code: "FUR",
        min_cents: 4_900,
        max_cents: 199_900,
        weight: 8.0,
        adjectives: &[
            "Oak",
            "Walnut",
            "Upholstered",
            "Scandinavian",
            "Industrial",
            "Ergonomic",
        ],
        nouns: &[
            "Sofa",
            "Dining Table",
            "Bed Frame",
            "Bookshelf",
            "Office Chair",
            "Wardrobe",
        ],
        brands: &["Nordhaus", "Oakwood", "Furniture Co", "Urban Nest"],
        suppliers: &["Timber & Co", "Furnish Logistics", "HomeGoods Wholesale"],
        blurb: "Delivered flat-packed with all fittings included.",
    },
    Category {
        slug: "sports-accessories",
        code: "SPO",
        min_cents: 499,
        max_cents: 29_900,
        weight: 10.0,
        adjectives: &[
            "Pro",
            "Lightweight",
            "Adjustable",
            "Training",
            "Carbon",
            "All-Weather",
        ],
        nouns: &[
            "Football",
            "Tennis Racket",
            "Yoga Mat",
            "Dumbbell Set",
            "Cycling Helmet",
        ],
        brands: &["Adidas", "Nike", "Wilson", "Decathlon", "Puma"],
        suppliers: &[
            "SportSupply GmbH",
            "Active Outfitters",
            "Champion Wholesale",
        ],
        blurb: "Built for everyday training and weekend games.",
    },
    Category {
        slug: "womens-clothing",
        code: "WCL",
        min_cents: 1_200,
        max_cents: 17_900,
        weight: 12.0,
        adjectives: &["Floral", "Linen", "Silk", "Casual", "Knitted", "Wrap"],
        nouns: &["Dress", "Blouse", "Skirt", "Cardigan", "Jumpsuit", "Coat"],
        brands: &["Zara", "Mango", "H&M", "Uniqlo", "Esprit"],
        suppliers: &["Fashion Forward Ltd", "Textile Partners", "Moda Sourcing"],
        blurb: "True to size; machine washable at 30 degrees.",
    },
    Category {
        slug: "mens-shoes",
        code: "MSH",
        min_cents: 2_900,
        max_cents: 24_900,
        weight: 12.0,
        adjectives: &["Leather", "Running", "Suede", "Classic", "Trail", "Canvas"],
        nouns: &[
            "Sneakers", "Loafers", "Boots", "Oxfords", "Sandals", "Trainers",
        ],
        brands: &["Nike", "Adidas", "Clarks", "New Balance", "Timberland"],
        suppliers: &["Footwear Direct", "Active Outfitters", "Moda Sourcing"],
        blurb: "Cushioned insole and durable rubber outsole.",
    },
];

/// Allowed payment methods (the transactions contract's list) with realistic weights.
pub(super) const PAYMENT_METHODS: &[(&str, f64)] = &[
    ("credit_card", 38.0),
    ("debit_card", 18.0),
    ("paypal", 17.0),
    ("apple_pay", 9.0),
    ("google_pay", 6.0),
    ("bank_transfer", 5.0),
    ("gift_card", 4.0),
    ("cash_on_delivery", 3.0),
];

/// Payment methods the contract does not allow.
pub(super) const BAD_PAYMENT_METHODS: &[&str] = &["bitcoin", "cheque", "barter"];

/// Transaction dates no accepted format parses.
pub(super) const BAD_DATES: &[&str] = &["2026-13-45 25:61:00", "not a date", "31/02/2026 10:00"];

/// Event types the clickstream contract does not allow.
pub(super) const BAD_EVENT_TYPES: &[&str] = &["hover", "scroll_deep"];

/// Devices (the clickstream contract's list) with weights for browsing sessions.
pub(super) const DEVICES: &[(&str, f64)] = &[("mobile", 48.0), ("desktop", 42.0), ("tablet", 10.0)];

/// Devices with weights for sessions that end in a purchase (desktop converts better).
pub(super) const PURCHASE_DEVICES: &[(&str, f64)] =
    &[("desktop", 52.0), ("mobile", 40.0), ("tablet", 8.0)];

/// Traffic sources (the session's referrer).
pub(super) const REFERRERS: &[(&str, f64)] = &[
    ("direct", 30.0),
    ("google", 32.0),
    ("bing", 4.0),
    ("facebook", 9.0),
    ("instagram", 8.0),
    ("tiktok", 5.0),
    ("newsletter", 7.0),
    ("affiliate", 5.0),
];

/// Landing pages that are not about one category.
pub(super) const LANDING_PAGES: &[&str] = &["/", "/deals", "/new-arrivals"];

/// Relative order volume by hour of day (UTC): quiet nights, a midday peak, an evening peak.
pub(super) const HOUR_WEIGHTS: [f64; 24] = [
    0.30, 0.18, 0.12, 0.10, 0.10, 0.15, 0.30, 0.55, 0.85, 1.05, 1.25, 1.45, 1.65, 1.50, 1.30, 1.20,
    1.25, 1.40, 1.70, 2.00, 2.10, 1.80, 1.20, 0.65,
];

/// Relative order volume by weekday, Monday first: weekends are busier.
pub(super) const WEEKDAY_WEIGHTS: [f64; 7] = [0.90, 0.88, 0.92, 0.97, 1.08, 1.28, 1.22];
