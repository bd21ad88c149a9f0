"""The 14 content categories and the descriptions the zero-shot category head is built from.

Each category's head vector is the normalised mean of the embeddings of its descriptions; the head's logits are the
cosine similarities scaled by SCALE. Descriptions read like the captions they should match, not like dictionary entries.
"""

from __future__ import annotations

SCALE = 30.0

DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "Fitness & Health": (
        "A workout at the gym: lifting weights, squats, deadlifts, cardio, training session and personal records.",
        "Fitness journey, weight loss progress, getting stronger, healthy habits and staying motivated to exercise.",
        "Yoga, pilates, running a marathon, stretching, mobility and recovery after training.",
        "Mental health, wellness, sleep, self-care routine, nutrition and protein for muscle gain.",
    ),
    "Fashion & Beauty": (
        "Outfit of the day, style inspiration, new clothes, dress, sneakers, streetwear and fashion week looks.",
        "Makeup tutorial, lipstick, foundation, skincare routine, serum, glowing skin and beauty products.",
        "Hair styling, nails, manicure, fragrance, jewelry and accessories haul.",
        "Fashion brand collection, designer bag, wardrobe essentials and what I wore today.",
    ),
    "Food & Drink": (
        "A delicious meal: recipe, cooking dinner at home, baking bread, homemade pasta and dessert.",
        "Trying a new restaurant, brunch, street food, pizza, burgers, sushi and tasting menu.",
        "Coffee, cocktails, wine tasting, craft beer, smoothies and drinks with friends.",
        "Vegan food, meal prep, healthy bowl, breakfast ideas and what I ate today.",
    ),
    "Travel": (
        "Travelling abroad: exploring a new city, vacation, holiday, beach, island and sunset views.",
        "Backpacking adventure, road trip, hiking in the mountains, national parks and wanderlust.",
        "Hotel stay, airport, flight, passport, travel guide and the best places to visit.",
        "Sightseeing landmarks, old town streets, local culture and a weekend getaway.",
    ),
    "Technology": (
        "New smartphone, laptop, gadget review, unboxing, specs and tech setup.",
        "Software, coding, programming, apps, artificial intelligence and startups building products.",
        "Computer hardware, desk setup, headphones, camera gear, smart home devices and electronics.",
        "Tech news, product launch, operating system update, developer tools and the future of innovation.",
    ),
    "Gaming": (
        "Playing video games: gameplay, new game release, console, PC gaming and controller.",
        "Live streaming on Twitch, esports tournament, gamer setup, ranked match and a clutch victory.",
        "PlayStation, Xbox, Nintendo Switch, Minecraft, Fortnite, Call of Duty and RPG adventures.",
        "Gaming community, speedrun, boss fight, level up and multiplayer with the squad.",
    ),
    "Music": (
        "New song release, album, single, listen now on Spotify, music video and studio session.",
        "Live concert, tour dates, festival stage, performing on stage and singing with the crowd.",
        "Playing guitar, piano, drums, producing beats, DJ set, band rehearsal and songwriting.",
        "Musician, rapper, singer, vocals, lyrics, playlist and a cover of my favourite track.",
    ),
    "Business & Finance": (
        "Entrepreneurship, building a business, startup founder, brand growth, sales and marketing tips.",
        "Investing, stock market, crypto, personal finance, saving money, passive income and wealth.",
        "Career advice, productivity, leadership, hustle, side business, revenue and clients.",
        "Real estate investment, financial freedom, budgeting, economy and money mindset.",
    ),
    "Sports": (
        "Match day: football, soccer, basketball, tennis, baseball, the team won the game and scored a goal.",
        "Athletes competing in a championship, league, tournament final, Olympics and the stadium crowd.",
        "Cycling race, boxing fight, surfing, skiing, golf, Formula 1 and motorsport.",
        "Fans supporting their club, season highlights, coach, players, training camp and trophies.",
    ),
    "Entertainment": (
        "Movies, film premiere, TV series, Netflix show, trailer, actors and celebrity news.",
        "Comedy sketch, funny video, memes, prank, jokes and viral moments.",
        "Red carpet, award show, behind the scenes on set, podcast episode and pop culture.",
        "Binge watching a series, cinema night, reality TV and the season finale.",
    ),
    "Education": (
        "Learning and studying: school, university, exams, lecture, study tips and online course.",
        "Teaching a lesson, tutorial, how to learn a language, science facts and history explained.",
        "Books, reading list, research, knowledge, student life, graduation and homework.",
        "Educational content, tips and tricks explained step by step, teacher and classroom.",
    ),
    "Parenting & Family": (
        "Motherhood and fatherhood: my kids, baby, toddler, newborn, pregnancy and parenting tips.",
        "Family time, family vacation, siblings, grandparents, raising children and bedtime routine.",
        "Mom life, dad life, school run, birthday party for my daughter or son, family memories.",
        "Baby milestones, first steps, breastfeeding, nursery and parenting struggles.",
    ),
    "Art & Design": (
        "Painting, drawing, illustration, sketchbook, watercolor, canvas and artwork in progress.",
        "Graphic design, typography, logo design, interior design, architecture and creative process.",
        "Photography, digital art, sculpture, ceramics, handmade crafts and an art exhibition or gallery.",
        "Tattoo design, street art, mural, portfolio, commission and art studio.",
    ),
    "Lifestyle": (
        "Daily life vlog, morning routine, home decor, cozy weekend, day in my life.",
        "Personal thoughts, gratitude, motivation quote, mindset, life update and relationships.",
        "Friends hanging out, birthday celebration, night out, pets, my dog and my cat.",
        "Moving into a new apartment, organising, minimalism, self-improvement and sustainable living.",
    ),
}

LABELS: tuple[str, ...] = tuple(DESCRIPTIONS)
