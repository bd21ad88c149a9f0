"""What the sample creators write about: per niche, caption sentences, hashtags, emoji, brands, places and colours.

English sentences exist for every niche; the non-English creators draw from `LOCAL_SENTENCES` in their language.
Sentences lean positive, with some neutral and negative ones so sentiment analysis has something to tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Niche:
    sentences: tuple[str, ...]
    hashtags: tuple[str, ...]
    emoji: tuple[str, ...]
    brands: tuple[str, ...]
    places: tuple[str, ...]
    # Two RGB colours the generated images blend between.
    palette: tuple[tuple[int, int, int], tuple[int, int, int]]


NICHES: dict[str, Niche] = {
    "fitness": Niche(
        sentences=(
            "Leg day done: 5x5 squats at a new personal best, the consistency is finally paying off.",
            "Full-body HIIT circuit you can do at home in 20 minutes, save it for tomorrow morning.",
            "Progress is not linear. Three months ago I could not do a single pull-up, today I did eight.",
            "My go-to post-workout meal: grilled chicken, rice, greens and plenty of water.",
            "Rest days are part of the plan. Mobility, a long walk and early sleep.",
            "Tweaked my lower back during deadlifts this week, frustrating, so I am taking it slow.",
            "Core finisher: plank, dead bugs and hollow holds, three rounds, no excuses.",
            "Coaching call with the team today: new training block starts Monday.",
        ),
        hashtags=("fitness", "gym", "workout", "fitfam", "legday", "strength", "hiit", "training", "motivation"),
        emoji=("💪", "🔥", "🏋️", "🥗", "💦", "🙌", "⏱️"),
        brands=("gymsharkwear", "myproteinuk", "nike", "wheyforward"),
        places=("Iron Temple Gym", "Venice Beach", "Central Park"),
        palette=((214, 64, 69), (40, 40, 48)),
    ),
    "food": Niche(
        sentences=(
            "Fresh tagliatelle with brown butter and sage, ready in fifteen minutes, recipe below.",
            "Slow-roasted tomatoes, garlic and basil: the simplest sauce is the best sauce.",
            "Tried the new ramen place downtown and the broth was honestly disappointing.",
            "Sunday bake: sourdough with a crackly crust and an open crumb.",
            "Meal prep for the week: three lunches, two dinners, one big pot of lentil soup.",
            "Lemon ricotta pancakes because it is the weekend and we deserve it.",
            "Knife skills 101: how to dice an onion without tears.",
        ),
        hashtags=("food", "foodie", "recipe", "homecooking", "pasta", "baking", "foodphotography", "yum"),
        emoji=("🍝", "🍋", "🧄", "🍅", "👨‍🍳", "😋", "🔥"),
        brands=("lecreuset", "barillaus", "hellofresh", "kitchenaid"),
        places=("Trattoria Da Enzo", "Borough Market", "Mercato Centrale"),
        palette=((234, 170, 60), (120, 40, 20)),
    ),
    "travel": Niche(
        sentences=(
            "Sunrise over the fjord after a four-hour hike, every step was worth it.",
            "Three days in Lisbon: trams, pastéis de nata and golden hour at the miradouros.",
            "Lost luggage, a cancelled train and a night on the station bench. Travel is not always pretty.",
            "Hidden beach only reachable by boat, the water was unbelievably clear.",
            "How I pack for two weeks with one carry-on, full list in the highlights.",
            "Street food tour in Bangkok: mango sticky rice is still my favourite.",
            "Camping under the stars in the desert, no signal and no regrets.",
        ),
        hashtags=("travel", "wanderlust", "travelgram", "explore", "adventure", "roadtrip", "vanlife", "beach"),
        emoji=("✈️", "🌍", "🏔️", "🌅", "🧳", "🏝️", "📸"),
        brands=("airbnb", "booking.com", "osprey", "gopro"),
        places=("Lofoten Islands", "Lisbon, Portugal", "Bangkok, Thailand", "Wadi Rum"),
        palette=((40, 140, 200), (250, 210, 150)),
    ),
    "fashion": Niche(
        sentences=(
            "Autumn layers: oversized blazer, wide-leg trousers and loafers.",
            "Three ways to style one white shirt, which one is your favourite?",
            "Thrifted this vintage coat for twelve euros, best find of the year.",
            "Not loving fast fashion lately, building a smaller wardrobe I actually wear.",
            "Front row at the show today, the colours this season are bold.",
            "Capsule wardrobe update: ten pieces, thirty outfits.",
        ),
        hashtags=("fashion", "ootd", "style", "streetstyle", "outfit", "vintage", "fashionweek", "lookbook"),
        emoji=("👗", "👠", "🧥", "✨", "🛍️", "💅", "🖤"),
        brands=("zara", "hm", "cos", "levis", "arket"),
        places=("Paris Fashion Week", "Soho, London", "Milan"),
        palette=((30, 30, 30), (230, 200, 190)),
    ),
    "tech": Niche(
        sentences=(
            "I tested the new phone for two weeks: great battery, mediocre camera, full review on the channel.",
            "My desk setup for 2026: one ultrawide, a split keyboard and far fewer cables.",
            "Five terminal tricks that save me an hour a week.",
            "This laptop's keyboard failed after three months, really disappointed with the build quality.",
            "Building a home server out of an old mini PC, part one.",
            "Is the new tablet worth the upgrade? Short answer: probably not.",
        ),
        hashtags=("tech", "gadgets", "setup", "desksetup", "review", "coding", "ai", "smartphone"),
        emoji=("💻", "📱", "⌨️", "🔌", "🤖", "⚡", "🧠"),
        brands=("samsung", "logitech", "anker", "framework"),
        places=("CES Las Vegas", "Berlin"),
        palette=((20, 30, 60), (60, 200, 220)),
    ),
    "gaming": Niche(
        sentences=(
            "Clutched a 1v4 on stream last night, clip in the reel.",
            "Finally finished the game after 120 hours and that ending broke me.",
            "Ranked grind is brutal this season, lost ten in a row, taking a break.",
            "New PC build: quiet, fast and way too many RGB lights.",
            "Speedrun attempt tonight at 8 pm, come hang out.",
        ),
        hashtags=("gaming", "gamer", "twitch", "pcgaming", "esports", "streamer", "gamingsetup"),
        emoji=("🎮", "🕹️", "🏆", "👾", "🔥", "😤"),
        brands=("razer", "steelseries", "redbull", "nvidia"),
        places=("Gamescom Cologne",),
        palette=((90, 20, 160), (20, 220, 140)),
    ),
    "parenting": Niche(
        sentences=(
            "Toddler refused every vegetable today except, somehow, broccoli.",
            "Our bedtime routine that finally works: bath, two books, one song.",
            "Sleepless night number four, sending coffee and love to every parent out there.",
            "Rainy-day craft: paper boats and a very serious puddle race.",
            "First day of school, I cried more than she did.",
        ),
        hashtags=("parenting", "momlife", "toddler", "family", "motherhood", "kidsactivities"),
        emoji=("👶", "🧸", "❤️", "🌈", "😴", "🎒"),
        brands=("pampers", "lego", "stokke"),
        places=("Hampstead Heath", "Toronto"),
        palette=((250, 200, 210), (150, 200, 240)),
    ),
    "music": Niche(
        sentences=(
            "New single out Friday, it is the most personal song I have written.",
            "Sold-out show last night, thank you for singing every word.",
            "Writer's block all week, nothing I record sounds right.",
            "Studio session: analog synths and a borrowed upright piano.",
            "Acoustic cover of a song that got me through a rough year.",
        ),
        hashtags=("music", "newmusic", "singer", "songwriter", "livemusic", "studio", "producer"),
        emoji=("🎵", "🎤", "🎹", "🎸", "🎧", "✨"),
        brands=("spotify", "fender", "sennheiser"),
        places=("O2 Academy Brixton", "Abbey Road Studios"),
        palette=((30, 20, 50), (240, 80, 120)),
    ),
    "beauty": Niche(
        sentences=(
            "Glass skin routine: double cleanse, essence, serum and a lot of sunscreen.",
            "Five-minute makeup for busy mornings.",
            "This foundation oxidised within an hour, would not repurchase.",
            "Skincare shelf reset, everything here is fragrance-free.",
            "Soft glam for a wedding, full product list below.",
        ),
        hashtags=("beauty", "skincare", "makeup", "glowingskin", "kbeauty", "makeuptutorial", "selfcare"),
        emoji=("💄", "✨", "🧴", "🌸", "💖", "🪞", "😍"),
        brands=("glossier", "theordinary", "fentybeauty", "laneige"),
        places=("Seoul, South Korea",),
        palette=((250, 220, 225), (200, 120, 140)),
    ),
    "pets": Niche(
        sentences=(
            "Milo discovered snow today and has not stopped zooming.",
            "Adopted, not shopped: two years with this goofball.",
            "Vet visit went well, just a small scare, he is fine.",
            "Trying a new puzzle feeder, he solved it in under a minute.",
        ),
        hashtags=("dogsofinstagram", "pets", "puppy", "adoptdontshop", "dog", "petlovers"),
        emoji=("🐶", "🐾", "🦴", "❤️", "❄️"),
        brands=("chewy", "kong", "purina"),
        places=("Golden Gate Park",),
        palette=((200, 160, 110), (90, 130, 80)),
    ),
    "home": Niche(
        sentences=(
            "Balcony garden update: tomatoes are finally turning red.",
            "Zero-waste swaps that actually stuck in our home.",
            "The compost bin smells awful this week, lessons were learned.",
            "Small-space living: how we fit a home office into 40 square metres.",
        ),
        hashtags=("sustainability", "zerowaste", "garden", "homedecor", "plants", "interiordesign"),
        emoji=("🌱", "🪴", "♻️", "🏡", "🌿"),
        brands=("ikea", "patagonia", "ecover"),
        places=("Copenhagen",),
        palette=((90, 140, 90), (235, 230, 210)),
    ),
    "finance": Niche(
        sentences=(
            "How I automated saving 20 percent of every paycheck.",
            "Markets were rough this month, sticking to the plan anyway.",
            "Three budgeting mistakes I made in my twenties.",
            "Index funds, explained in one minute.",
        ),
        hashtags=("personalfinance", "investing", "money", "budgeting", "financialfreedom"),
        emoji=("💸", "📈", "🏦", "💡", "📉"),
        brands=("revolut", "wise", "n26"),
        places=("New York",),
        palette=((20, 80, 60), (220, 220, 200)),
    ),
    "art": Niche(
        sentences=(
            "Watercolour study of the harbour at dusk, 30 by 40 centimetres.",
            "Commissions are open again, details in the link.",
            "Scrapped this canvas after three days, sometimes it just does not work.",
            "Ink sketches from the café this morning.",
        ),
        hashtags=("art", "watercolor", "artist", "painting", "sketchbook", "illustration"),
        emoji=("🎨", "🖌️", "✏️", "🖼️", "🌊"),
        brands=("winsornewton", "moleskine"),
        places=("Porto, Portugal",),
        palette=((60, 90, 160), (240, 220, 180)),
    ),
}

# Captions for the non-English creators: language -> niche -> sentences.
LOCAL_SENTENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "es": {
        "food": (
            "Tortilla de patatas jugosa, con cebolla por supuesto, receta completa abajo.",
            "Paella del domingo con la familia, el socarrat salió perfecto.",
            "Probé el nuevo restaurante del centro y la verdad me decepcionó bastante.",
            "Gazpacho fresquito para este calor, listo en diez minutos.",
            "Churros caseros con chocolate espeso, ¡qué felicidad!",
        ),
    },
    "pt": {
        "travel": (
            "Pôr do sol em Lisboa, a cidade mais bonita do mundo.",
            "Três dias nos Açores: lagoas, trilhos e muito verde.",
            "Voo cancelado e dez horas no aeroporto, nem tudo são flores.",
            "Praia escondida no Algarve, água cristalina e ninguém à volta.",
            "Roteiro completo do Rio de Janeiro nos destaques.",
        ),
    },
    "fr": {
        "fashion": (
            "Look d'automne : trench beige, jean droit et mocassins.",
            "Trois façons de porter une chemise blanche, laquelle préférez-vous ?",
            "Déçue par cette marque, la qualité n'est plus au rendez-vous.",
            "Trouvaille vintage aux puces de Saint-Ouen, je suis ravie.",
            "Dans les coulisses du défilé, quelle énergie !",
        ),
    },
    "de": {
        "fitness": (
            "Zehn Kilometer vor dem Frühstück, neue Bestzeit!",
            "Trainingsplan für diese Woche: drei Läufe, zwei Krafteinheiten.",
            "Knie tut seit Tagen weh, deshalb heute nur Pause und Dehnen.",
            "Intervalltraining im Regen, hart aber es hat sich gelohnt.",
            "Mein Frühstück nach dem langen Lauf: Haferflocken, Beeren und Kaffee.",
        ),
    },
    "it": {
        "music": (
            "Nuovo singolo in uscita venerdì, è la canzone più personale che abbia mai scritto.",
            "Concerto sold out ieri sera, grazie per aver cantato ogni parola.",
            "Settimana difficile in studio, niente suona come vorrei.",
            "Prove acustiche con il pianoforte della nonna.",
            "Che emozione suonare all'Arena, non lo dimenticherò mai.",
        ),
    },
}

# How each language marks a paid partnership in a caption, besides "#ad".
PARTNERSHIP_LINES: dict[str, str] = {
    "en": "Paid partnership with @{brand}",
    "es": "Colaboración pagada con @{brand} #publi",
    "pt": "Parceria paga com @{brand} #publi",
    "fr": "Partenariat rémunéré avec @{brand} #sponsorisé",
    "de": "Bezahlte Partnerschaft mit @{brand} #werbung",
    "it": "Partnership retribuita con @{brand} #adv",
}

FRIENDS: tuple[str, ...] = ("sam.runs", "jules.eats", "nora.snaps", "kofi.films", "ines.draws", "leo.lifts")
