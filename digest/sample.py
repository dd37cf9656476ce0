"""An offline sample for the fictional brand "Acme Air": feeds in several formats and call-center exports.

`write_sample(directory, now)` fills directory/examples/generated/ with what the shipped sources.yaml
reads, spread over the last `days` days with a daily and weekly rhythm, slowly growing volume, an issue
that emerges over three weeks (seat fees charged twice) and a loud negative spike over the last two days
(the app crashes at check-in), so that daily, weekly and alert outputs all have something to say.
Every text below was written for this sample. Run `python -m digest.sample [DIR]` to write it by hand.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import random
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TypeVar
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

TZ = ZoneInfo("America/New_York")
GENERATED = Path("examples") / "generated"

# -- the text bank ---------------------------------------------------------------------------------------
# {b} is replaced by a way people name the brand; the other fields by the lists after the bank.

T = TypeVar("T")
Bank = Sequence[tuple[float, Sequence[T]]]  # (weight, templates) per topic

SOCIAL: Bank[str] = (
    (10, (  # delays
        "{b} flight {fl} from {city} delayed {h} hours and counting. No updates at the gate. This is "
        "ridiculous.",
        "Sitting on the tarmac at {city} for {min} minutes with no air conditioning. Thanks a lot {b}",
        "Third delay this month with {b}. I'm starting to think the timetable is just a suggestion.",
        "{b} pushed my {city} connection back {h} hours and I missed my sister's rehearsal dinner. Terrible.",
        "Delayed again. The {b} gate agents in {city} are trying, but nobody tells them anything either.",
        "Why does {b} announce the delay five minutes AFTER boarding was supposed to start? Every single "
        "time.",
        "Flight {fl} delayed for a 'crew timeout'. How does {b} not plan for this?",
    )),
    (5, (  # cancellations
        "{b} cancelled flight {fl} at 11pm and rebooked me for two days later. No hotel, no meal "
        "voucher. Awful.",
        "Cancelled with no explanation and the {b} rebooking page just spins. Stuck in {city}.",
        "Got a text at 4am that my {b} flight was cancelled. Next free seat is on {day}. Seriously?",
        "{b} cancelled my flight but the agent rebooked me via {city2} in under five minutes. Credit "
        "where due.",
    )),
    (7, (  # baggage
        "{b} lost my bag on the way to {city}. Day {n} and the tracker still says 'in transit'.",
        "Waited {min} minutes at the carousel in {city}. {b} baggage handling is a joke.",
        "My suitcase came off the {b} flight with a broken handle and a soaked lining. Claim filed, no "
        "reply yet.",
        "Shout out to the {b} baggage desk in {city}: they found my bag and had it at my hotel by midnight!",
    )),
    (6, (  # refunds and billing
        "Still waiting on my {b} refund of ${amt}. It's been {n} weeks and every call ends in a disconnect.",
        "Was promised a travel credit by {b} and it vanished from my account. Not okay.",
        "{b} refunded my cancelled ticket within three days. Painless. Did not expect that.",
        "{b} billed me a change fee I was told would be waived. ${amt} I want back.",
    )),
    (7, (  # customer service, on hold
        "On hold with {b} for {min} minutes now. The hold music is burned into my brain.",
        "The {b} agent at the {city} counter was incredibly rude when I asked about my connection.",
        "Called {b} three times, got three different answers about my change fee.",
        "{b} chat support closed my conversation mid-sentence. Twice.",
        "Huge thanks to {name} at the {b} help desk who sorted my booking in minutes. Kind and patient.",
    )),
    (4, (  # app and website
        "The {b} website logged me out three times while I was paying. Lost my seat choice every time.",
        "{b} app says my flight is on time, the board at {city} says delayed. Which one is lying?",
        "Can't add my loyalty number in the {b} app. Error every time.",
        "Love that the {b} app lets me track my bag now. Super handy.",
    )),
    (4, (  # seats and comfort
        "Economy seats on {b} get smaller every year. My knees were in my chest for {h} hours.",
        "Paid extra for a window seat on {b}, got moved to a middle seat with no explanation or refund.",
        "Broken recline, broken tray table and a seatback screen that only shows static. Classic {b}.",
        "The new {b} seats with extra legroom are genuinely comfortable. Worth the upgrade.",
    )),
    (2, (  # food
        "{b} served a sandwich that was still frozen in the middle on a {h} hour flight. Yum.",
        "The vegetarian meal I pre-ordered on {b} never showed up. Again.",
        "Honestly the {b} cheese plate was surprisingly good today.",
    )),
    (8, (  # praise for the crew
        "The {b} crew on flight {fl} were amazing with my anxious toddler. Thank you {name}!",
        "Captain on {b} {fl} explained the turbulence calmly and kept us updated. Great crew.",
        "Flight attendant {name} on {b} went above and beyond for the elderly passenger next to me. "
        "Wonderful.",
        "Smooth flight, friendly crew, landed early. Good job {b}.",
    )),
    (4, (  # on time
        "{b} {fl} landed 20 minutes early in {city2}. Best flight I've had all year.",
        "On time departure, on time arrival. {b} quietly having a great week.",
        "Boarding started right on time and we pushed back early. Nicely done {b}.",
    )),
    (3, (  # loyalty programme
        "My {b} miles expired without a single reminder email. {n}0,000 points gone.",
        "Finally made gold status with {b}. The lounge in {city} is lovely.",
        "Used my {b} miles for an upgrade to {city2}. Easy and worth it.",
    )),
    (3, (  # neutral
        "Does anyone know if {b} allows two carry-ons on regional flights?",
        "Flying {b} to {city2} tomorrow, any tips for the {city} terminal?",
        "{b} is adding a route to {city2} this fall, according to their newsletter.",
    )),
    (5, (  # not about the brand at all: the keyword filter drops these
        "Flights out of {city} are a mess today, storms everywhere.",
        "Why is airport coffee always seven dollars?",
        "Anyone else's luggage come out last every single time?",
    )),
    (2, (  # about the cartoon company: the exclude list drops these
        "Rewatching old Acme Looney cartoons with the kids tonight.",
        "Wile E. Coyote just ordered another rocket from Acme. Some things never change.",
    )),
)

EMERGING = (  # grows over the last three weeks: seat fees charged twice
    "{b} charged me the seat selection fee twice again. Is this happening to everyone?",
    "Double charge for seat selection on {b}. My statement shows two identical ${amt} charges.",
    "Anyone else get billed twice by {b} for picking a seat?",
)

SPIKE = (  # the last two days: the app crashes at check-in
    "{b} app crashes every time I tap check-in. Stuck in the line at {city} now. Terrible.",
    "Can't check in, the {b} app just closes itself. Anyone else?",
    "{b} your app crashes at check-in on both my phones. Fix it please!",
    "Missed online check-in because the {b} app kept crashing. Now paying for a bag at the counter. Awful.",
    "The {b} app update broke check-in completely. Crash, reopen, crash.",
    "Queue at the {city} counter is enormous because the {b} app won't let anyone check in.",
    "App crash at check-in for the third time today {b}. What is going on?",
)

NEWS: Bank[str] = (
    (3, ("<b>Acme Air</b> adds {n} new routes from {city}|The carrier said the expansion would start in the "
         "spring, with daily service to {city2}.",
         "<b>Acme Air</b> to refresh cabins on its regional fleet|New seats and power outlets are planned, "
         "the airline told investors.",
         "<b>Acme Air</b> settles pay dispute with pilots&#39; union|Both sides called the agreement fair; "
         "flights were not affected.")),
    (3, ("<b>Acme Air</b> on-time performance slips as storms hit hubs|Delays at {city} rose sharply, "
         "according to government figures.",
         "Travelers report long waits at <b>Acme Air</b> counters in {city}|Passengers described lines "
         "of more "
         "than an hour at check-in.",
         "<b>Acme Air</b> passengers stranded after overnight cancellations|Hundreds were left without hotel "
         "rooms in {city}, travelers said.",
         "<b>Acme Air</b> loyalty programme changes draw criticism|Frequent flyers say the new rules make "
         "upgrades harder to get.")),
    (2, ("Review: flying <b>Acme Air</b>&amp;#39;s new premium economy|Comfortable seats and attentive crew, "
         "but the meal was forgettable.",
         "<b>Acme Air</b> named most improved airline for customer care|The award cited faster refunds and "
         "friendlier phone support.")),
    (1, ("<b>Acme</b> Looney Tunes exhibit opens at {city} museum|Anvils, rockets and a very patient "
         "roadrunner.",)),
)

NEWS_SPIKE = ("<b>Acme Air</b> app glitch leaves passengers unable to check in|The airline said "
              "engineers were "
              "working on a fix and urged travelers to use airport kiosks.")

REDDIT: Bank[str] = (
    (3, ("Acme Air lost my bag, what are my options?|Flew {city} to {city2} on {day}, bag never arrived. "
         "Claim "
         "is open but nobody answers the phone. Do I have rights to compensation?",
         "Acme Air refund still pending after {n} weeks|Cancelled flight, refund 'approved', still "
         "nothing on my "
         "card. Is this normal for them?",
         "Rude gate agent at {city}, Acme Air|Asked a simple question about my connection and got yelled "
         "at in "
         "front of everyone. Is there a way to complain that actually gets read?")),
    (2, ("PSA: Acme Air gate agents can rebook you faster than the app|Skip the app during irregular "
         "operations, the agents at {city} had me on a new flight in minutes.",
         "Is Acme Air premium economy worth it for a {h} hour flight?|Thinking about upgrading for my "
         "trip to "
         "{city2}. Legroom in regular economy was awful last time.",
         "Acme Air loyalty status match, anyone done it?|Considering moving my flying over from another "
         "airline.")),
    (2, ("Acme Air crew handled a medical emergency perfectly last night|The flight attendants were calm and "
         "professional, and {name} stayed with the passenger the whole time. Huge respect.",
         "Acme Air was actually on time for once|Four flights this month, all on time. Did something "
         "change?")),
    (1, ("Best airports for a long layover?|Looking at {city} or {city2}, any advice?",)),
)

REDDIT_EMERGING = ("Acme Air charging for seat selection twice?|Just noticed two identical seat charges "
                   "on my "
                   "card for the same booking. Support says it will 'reverse automatically'. Anyone else?")
REDDIT_SPIKE = ("Acme Air app crashing on check-in?|Every time I hit check in the app closes. Tried "
                "reinstalling. "
                "Flying out of {city} in three hours, this is stressful.")

REVIEWS: Bank[tuple[int, str, str]] = (  # (stars, title, body)
    (4, ((1, "Lost my bag and nobody "
             "cares", "Bag lost on a direct flight to {city2}. Nine calls, no answers, "
             "no compensation. Never again."),
         (1, "Worst customer service I have had", "Hours on hold, then disconnected. The agent at {city} was "
             "dismissive and rude."),
         (2, "Delays, delays, delays", "Every leg of the trip was delayed by at least an hour and nobody "
             "explained why."),
         (2, "Cramped and overpriced", "Seats are tiny, the fees never stop and the food was cold."))),
    (3, ((3, "Fine, nothing "
             "special", "Got where I needed to go. Boarding was chaotic, the crew was pleasant."),
         (3, "Average "
             "trip", "A little late, seats fine, the app worked. Would fly again if the price is right."))),
    (4, ((5, "Wonderful "
             "crew", "The flight attendants were kind and funny, and they helped my father with his "
             "wheelchair at both ends."),
         (5, "On time and comfortable", "Early arrival in {city2}, clean cabin, free snacks. Great value."),
         (4, "Good refund experience", "My flight was cancelled but the refund arrived in three days."))),
)

REVIEWS_SPIKE = ((1, "App is broken at check-in", "The app crashed every time I tried to check in and the "
                     "airport queue took an hour. Please fix this."),)

BLOG = (
    ("Twelve flights with Acme Air: an honest look",
     "<p>I flew Acme Air twelve times this season, mostly between {city} and {city2}.</p>"
     "<p>The crews were consistently friendly and the new seats are a real improvement. Delays were the "
     "weak point: four of twelve flights left more than an hour late, and only one came with an explanation."
     "</p><p>Would I fly them again? Yes, but I now book the first flight of the day.</p>"),
    ("How I finally got my Acme Air refund",
     "<p>It took {n} weeks, five phone calls and one very patient agent named {name}.</p>"
     "<p>Tip: ask for a case number on the first call and quote it every time.</p>"),
    ("Acme Air premium economy, reviewed",
     "<p>Wider seat, better meal, priority boarding. The upgrade from {city} was worth it for a red-eye, "
     "less "
     "so for a short hop.</p>"),
    ("The Acme Air lounge in {city}: worth a visit?",
     "<p>Quiet, clean, decent coffee, and power outlets at every seat. Showers were closed.</p>"),
    ("Travelling with kids on Acme Air",
     "<p>Family boarding worked, the crew brought crayons, and the bassinet seat was as promised. The app "
     "would not let me add my son&#39;s passport number, so I had to call.</p>"),
    ("Why my Acme Air miles expired, and how to stop yours from going too",
     "<p>Miles expire after eighteen months without activity, and the reminder email never came.</p>"),
)

BLOG_SPIKE = ("Acme Air's check-in app is broken: what to do",
              "<p>Since the latest update the Acme Air app crashes at check-in for many travellers. Use the "
              "website or the kiosks at {city}, and leave extra time at the airport.</p>")

CALLS: Sequence[tuple[float, str, Sequence[str]]] = (
    (7, "Baggage", (
        "Caller reports checked bag missing after flight {fl} from {city}. File opened. Customer upset, "
        "third call about this.",
        "Bag arrived damaged (broken wheel). Claim form sent.\nCustomer asked for compensation for a new "
        "suitcase, told to keep receipts.",
        "Delayed bag delivered to wrong address. Rescheduled courier for tomorrow morning.",
    )),
    (6, "Refunds", (
        "Customer requesting refund for cancelled flight {fl}, ${amt}. Refund submitted, told 7-10 business "
        "days.\nCustomer said they were told the same thing last month.",
        "Refund still not received after {n} weeks. Escalated to refunds team, case flagged urgent.",
        "Travel credit missing from account. Reissued credit of ${amt}. Customer satisfied.",
    )),
    (4, "Billing", (
        "Customer charged change fee that should have been waived. Reversed ${amt}.",
        "Question about taxes on award ticket. Explained breakdown.",
    )),
    (6, "Delays", (
        "Flight {fl} delayed {h} hours, customer missed connection in {city}. Rebooked on next flight, meal "
        "voucher issued.",
        "Customer angry about repeated delays this month. Wants compensation. Offered 5,000 miles.",
    )),
    (4, "Cancellations", (
        "Flight {fl} cancelled, customer stranded in {city} overnight. Hotel voucher issued.\nCustomer "
        "unhappy that the notification came at 2am.",
        "Cancellation rebooking: moved to flight via {city2}, same day arrival. Customer thanked agent.",
    )),
    (5, "Booking changes", (
        "Name correction on booking, fee waived.",
        "Date change for trip to {city2}. Fare difference ${amt} paid.",
        "Customer wants to add infant to booking. Done.",
    )),
    (5, "Complaint", (
        "Customer complained the gate agent at {city} was rude and refused to help with rebooking.",
        "Customer waited {min} minutes on hold before reaching an agent, very frustrated.\nAsked for a "
        "callback option in future.",
        "Customer unhappy with seat: paid for extra legroom, was moved to a standard seat. Refunded ${amt}.",
    )),
    (3, "Compliment", (
        "Customer called to compliment crew member {name} on flight {fl}. Passed on to the in-flight team.",
        "Customer thanked the {city} baggage team for finding a lost bag quickly.",
    )),
    (3, "Loyalty", (
        "Miles missing from flight {fl}. Added manually.",
        "Customer upset miles expired without notice. Reinstated as a one-off goodwill gesture.",
    )),
    (3, "App & website", (
        "Customer unable to log in to the app, password reset sent.",
        "Website error during payment, customer charged but no booking. Booking created manually, "
        "duplicate charge to be reversed.",
    )),
    (2, "Special assistance", (
        "Wheelchair assistance requested for flight {fl}. Confirmed.",
        "Customer travelling with service dog, paperwork explained.",
    )),
)

CALLS_EMERGING = ("Billing", "Customer charged twice for seat selection (${amt} x2). Escalated to billing.\n"
                             "Agent note: several of these this week.")
CALLS_SPIKE = ("App & "
               "website", "Customer unable to check in: the app crashes on the check-in screen. Checked "
                                "in by the agent.\nKnown issue? Many calls about this today.")

HOSTILE = (  # proves the pipeline escapes what it shows: (title, link, text, author)
    ("<script>alert(1)</script> Acme Air lost my bag", "javascript:alert(document.cookie)",
     "Acme Air &amp; friends <img src=x onerror=alert(1)> ruined my trip, bag lost in {city}.", "mallory"),
    ("@AcmeAir refund &lt;still&gt; missing", "https://social.example/eve/status/1",
     "Refund missing, &quot;processing&quot; for weeks. @AcmeAir <a href=\"javascript:alert(2)\">details</a>",
     "eve\r\nBcc: everyone@example.com"),
)

# Real posts are each worded a little differently, and the store folds identical texts of a channel into
# one: openers, closers and details keep templated posts distinct (and neutral, not to skew sentiment).
OPENERS = ("", "", "", "", "Update: ", "FYI: ", "Quick one: ", "Heads up: ", "Day {n} of my trip: ",
           "Flying today. ", "Story time: ", "Status report: ")
CLOSERS = ("", "", "", " #travel", " #avgeek", " #flying", " Flight {fl}.", " Gate {gate}.",
           " Seat {row}{seat}.", " Out of {city}.", " Anyone else?", " Sent from seat {row}{seat}.",
           " ({n} hours into this trip)", " Flight {fl} out of {city}.", " Posting from gate {gate}.")
TRAILERS = ("", " Any advice appreciated.", " Thanks in advance.", " Long time lurker, first post.",
            " Edit: flight was {fl}, if that matters.", " Edit: added the flight number ({fl}).",
            " This was out of {city}, gate {gate}.", " Curious if it's just me.")
BRAND_FORMS = ("@AcmeAir", "@AcmeAir", "Acme Air", "Acme Air", "#acmeair", "@acmeair", "acme air")
CITIES = ("Boston", "Newark", "Atlanta", "Chicago", "Denver", "Dallas", "Miami", "Orlando", "Seattle",
          "Phoenix", "Charlotte", "Detroit", "Toronto", "San Diego", "Nashville", "Raleigh")
NAMES = ("Maria", "Dev", "Jonah", "Priya", "Luis", "Grace", "Tomasz", "Aisha", "Kenji", "Rosa", "Sam", "Olu")
AGENTS = ("A. Moreno", "B. Chen", "C. Okafor", "D. Larsen", "E. Haddad", "F. Novak", "G. Silva", "H. Kim")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HANDLES = ("frequentflyer_jo", "kat_travels", "milesandmore_mike", "the_real_dana", "nomadnell", "pdx_pete",
           "suitcase_sara", "runwayrick", "gatelouse", "aislesally", "windowseatwill", "redeye_rae",
           "bizclassbob", "layoverlena", "tarmac_tom", "jetlagjen")
REDDITORS = ("throwaway_flyer", "bagless_in_boston", "pointsguy_wannabe", "anxious_aviator", "carryon_only",
             "mile_high_mo", "delayed_dan", "seat_31c")

# local-hour weights: social peaks morning and evening, the call center is staffed 6:00-23:00
SOCIAL_HOURS = (1, 1, 1, 1, 1, 2, 4, 7, 9, 8, 7, 7, 8, 7, 6, 6, 7, 8, 9, 9, 8, 6, 4, 2)
CALL_HOURS = (0, 0, 0, 0, 0, 0, 2, 5, 9, 10, 10, 9, 8, 9, 10, 9, 8, 6, 5, 4, 3, 2, 1, 0)
SOCIAL_WEEK = (1.0, 0.95, 0.95, 1.0, 1.1, 0.9, 0.85)  # Monday first
CALL_WEEK = (1.3, 1.1, 1.0, 1.0, 1.05, 0.55, 0.5)


@dataclasses.dataclass(frozen=True)
class _Item:
    """One generated post before it is written in some format."""

    when: datetime  # aware UTC
    text: str


class _Gen:
    """Deterministic choices from one seeded generator."""

    def __init__(self, seed: int, now: datetime, days: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - sample data, repeatable by design; not a secret
        self.now = now
        self.days = days
        self.start = now - timedelta(days=days)

    def fill(self, template: str, brand: str | None = None) -> str:
        r = self.rng
        return template.format(
            b=brand or r.choice(BRAND_FORMS), city=r.choice(CITIES), city2=r.choice(CITIES),
            fl=r.randint(101, 2999), h=r.randint(2, 9), min=r.choice((35, 45, 50, 70, 90, 110, 140, 185)),
            amt=r.choice((49, 79, 120, 189, 240, 315, 460, 612)), n=r.randint(2, 8), name=r.choice(NAMES),
            day=r.choice(DAYS), gate=f"{r.choice('ABCDE')}{r.randint(1, 40)}", row=r.randint(3, 38),
            seat=r.choice("ABCDEF"))

    def post(self, template: str) -> str:
        """A social post: the template with an opener and a closer, as people word things differently."""
        return self.fill(self.rng.choice(OPENERS) + template + self.rng.choice(CLOSERS))

    def pick(self, bank: Bank[T]) -> T:
        weights = [w for w, _ in bank]
        group = self.rng.choices(range(len(bank)), weights)[0]
        return self.rng.choice(bank[group][1])

    def times(self, per_day: float, hours: Sequence[int], week: Sequence[float]) -> list[datetime]:
        """Timestamps over the window: daily and weekly rhythm, volume growing about 30 % over the period."""
        out = []
        first = self.start.astimezone(TZ).date()
        for offset in range((self.now.astimezone(TZ).date() - first).days + 1):
            day = first + timedelta(days=offset)
            growth = 0.85 + 0.3 * offset / max(1, self.days)
            rate = per_day * growth * week[day.weekday()]
            count = int(rate) + (self.rng.random() < rate - int(rate))
            out += [t for t in (self._at(day, hours) for _ in range(count)) if self.start <= t < self.now]
        return sorted(out)

    def _at(self, day: date, hours: Sequence[int]) -> datetime:
        hour = self.rng.choices(range(24), hours)[0]
        local = datetime(day.year, day.month, day.day, hour, self.rng.randrange(60), self.rng.randrange(60),
                         tzinfo=TZ)
        return local.astimezone(UTC)

    def recent(self, count: int, within_hours: float, skew: float = 1.6) -> list[datetime]:
        """`count` timestamps before now, denser towards now (a spike that is still building)."""
        return sorted(self.now - timedelta(hours=within_hours * self.rng.random() ** skew, seconds=1)
                      for _ in range(count))

    def ramp(self, count: int, over_days: int) -> list[datetime]:
        """`count` timestamps over the last `over_days` days, more of them recently (an emerging issue)."""
        return sorted(self.now - timedelta(days=over_days * self.rng.random() ** 0.6, seconds=1)
                      for _ in range(count))


def write_sample(directory: Path, now: datetime, *, days: int = 120, seed: int = 7) -> list[Path]:
    """Write the sample into directory/examples/generated/ (old calls-*.csv there are replaced)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(UTC).replace(microsecond=0)
    out = directory / GENERATED
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("calls-*.csv"):
        old.unlink()
    gen = _Gen(seed, now, days)
    paths = [
        _write(out / "social.xml", _social_rss(gen)),
        _write(out / "alerts.xml", _alerts_atom(gen)),
        _write(out / "reddit.xml", _reddit_atom(gen)),
        _write(out / "reviews.xml", _reviews_rss(gen)),
        _write(out / "blog.json", _blog_json(gen)),
    ]
    return paths + _calls_csv(gen, out)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


def _social_items(gen: _Gen) -> list[_Item]:
    items = [_Item(t, gen.post(gen.pick(SOCIAL))) for t in gen.times(9, SOCIAL_HOURS, SOCIAL_WEEK)]
    items += [_Item(t, gen.post(gen.rng.choice(EMERGING))) for t in gen.ramp(30, 21)]
    items += [_Item(t, gen.post(gen.rng.choice(SPIKE))) for t in gen.recent(70, 48)]
    return sorted(items, key=lambda i: i.when)


# The fictional competitors of the shipped sources.yaml (share of voice): how people name them, posts a day
COMPETITORS = (("Globex Air", ("Globex Air", "@GlobexAir", "Globex", "#globexair"), 5.0),
               ("Initech Airways", ("Initech Airways", "@InitechAir", "Initech"), 2.5))
COMPETITOR_SEED = 1_000_003
BAGGAGE = next(templates for _, templates in SOCIAL if "lost my bag" in templates[0])


def _competitor_items(gen: _Gen) -> list[_Item]:
    """Posts about the competitors (from a generator of their own, so that the brand's sample stays as it
    was): the same kinds of posts, and lately a run of Globex baggage complaints, so that its share moves."""
    items = []
    for _, forms, per_day in COMPETITORS:
        for t in gen.times(per_day, SOCIAL_HOURS, SOCIAL_WEEK):
            items.append(_Item(t, gen.fill(gen.rng.choice(OPENERS) + gen.pick(SOCIAL) + gen.rng.choice(CLOSERS),
                                           brand=gen.rng.choice(forms))))
    globex = COMPETITORS[0][1]
    items += [_Item(t, gen.fill(gen.rng.choice(BAGGAGE[:3]) + gen.rng.choice(CLOSERS),
                                brand=gen.rng.choice(globex))) for t in gen.ramp(60, 28)]
    return sorted(items, key=lambda i: i.when)


# Customers abroad (issue 18): posts in Spanish, French, German, Japanese and Korean, about 4% of the social
# volume, from a generator of their own (the English sample stays as it was). Spanish, French and German are
# scored; Japanese and Korean are counted but not scored, so the quick start shows the Languages table and
# the data-health line. {b} is the brand as such customers write it.
ABROAD: tuple[tuple[str, float, tuple[str, ...], tuple[str, ...]], ...] = (
    ("es", 0.55, ("Acme Air", "@AcmeAir", "Acme"), (
        "{b} perdió mi maleta en {city} y nadie me responde. Un desastre.",
        "Tres horas de retraso con {b} y ni una explicación. Pésimo servicio.",
        "{b} me cobró dos veces el asiento, {amt} dólares. Quiero mi reembolso.",
        "La aplicación de {b} se cierra cada vez que intento hacer el check-in.",
        "Muy buen vuelo con {b}, la tripulación fue muy amable. ¡Gracias!",
        "Vuelo puntual a {city} con {b}, todo perfecto.",
        "¿Alguien sabe si {b} permite cambiar el vuelo sin cargo?",
    )),
    ("fr", 0.35, ("Acme Air", "@AcmeAir"), (
        "{b} a perdu ma valise à {city}, aucune réponse du service client. Inadmissible.",
        "Vol annulé par {b} sans prévenir, personne pour nous aider à la porte {gate}.",
        "{b} m'a facturé le siège deux fois. Toujours pas remboursé.",
        "Équipage adorable sur le vol {fl} de {b}, merci beaucoup !",
        "Très bon vol avec {b}, à l'heure et confortable.",
        "Bonjour {b}, comment ajouter un bagage à ma réservation ?",
    )),
    ("de", 0.35, ("Acme Air", "@AcmeAir"), (
        "{b} hat meinen Koffer verloren und seit {n} Tagen keine Antwort. Unmöglich.",
        "Schon wieder {min} Minuten Verspätung mit {b}. Sehr ärgerlich.",
        "Die App von {b} stürzt beim Check-in jedes Mal ab.",
        "Sehr freundliche Crew bei {b}, vielen Dank für den tollen Flug!",
        "Pünktlich gelandet in {city}, super Service von {b}.",
        "Hallo {b}, kann ich meinen Flug kostenlos umbuchen?",
    )),
    ("ja", 0.3, ("Acme Air", "アクメエア", "アクメエア"), (
        "{b}の遅延がひどい。{min}分も待たされた。最悪。",
        "{b}に預けたスーツケースが届かない。連絡もない。",
        "{b}のアプリがチェックインのたびに落ちる。",
        "{b}の客室乗務員さん、とても親切でした。ありがとう！",
        "{b}で{city}へ。定刻通りで快適でした。",
    )),
    ("ko", 0.2, ("Acme Air", "아크메항공", "아크메 항공"), (
        "{b} 또 지연이에요. {min}분째 기다리는 중.",
        "{b}이 제 짐을 잃어버렸어요. 답변도 없어요.",
        "{b} 승무원분들 정말 친절했어요. 감사합니다!",
        "{b} 앱이 체크인할 때마다 꺼져요.",
    )),
)
ABROAD_SEED = 2_000_003
# how such posts end (the store folds identical texts of a channel into one: people word things differently)
ABROAD_CLOSERS = {
    "es": ("", " Vuelo {fl}.", " Desde {city}.", " #viajes", " Puerta {gate}.", " Otra vez."),
    "fr": ("", " Vol {fl}.", " Départ de {city}.", " #voyage", " Porte {gate}.", " Encore."),
    "de": ("", " Flug {fl}.", " Ab {city}.", " #reisen", " Gate {gate}.", " Schon wieder."),
    "ja": ("", " {fl}便。", " {city}発。", " #旅行", " {gate}番ゲート。", ""),
    "ko": ("", " {fl}편.", " {city} 출발.", " #여행", " {gate} 게이트.", ""),
}


def _abroad_items(gen: _Gen) -> list[_Item]:
    """The posts of customers abroad (ABROAD)."""
    items = []
    for code, per_day, forms, templates in ABROAD:
        for t in gen.times(per_day, SOCIAL_HOURS, SOCIAL_WEEK):
            template = gen.rng.choice(templates) + gen.rng.choice(ABROAD_CLOSERS[code])
            items.append(_Item(t, gen.fill(template, brand=gen.rng.choice(forms))))
    return sorted(items, key=lambda i: i.when)


def _rfc822(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# The brand's care account answers posts addressed to it on social media (issue 16: "Did we answer?"), from a
# generator of its own (the posts stay as they were): most within the hour, some after hours, some never.
REPLIES_SEED = 3_000_017
CARE_ACCOUNT = "AcmeAirHelp"
ADDRESSED = "@AcmeAir"  # a post naming the brand's account is addressed to it (brand.accounts)
CARE_REPLIES = (
    "@{handle} We're sorry to hear this. Please DM us your booking reference and we'll look into it now.",
    "@{handle} That's not the experience we want for you. Our team is on it - check your DMs.",
    "@{handle} Thanks for letting us know. Could you send us a DM with your confirmation code?",
    "@{handle} Apologies for the trouble. We've passed this to the airport team and will update you.",
)


def _care_reply(rng: random.Random, when: datetime, now: datetime) -> datetime | None:
    """When the care account answers a post made at `when`: None for about a fifth, and for answers not yet
    given; otherwise after a wait of minutes to hours (median about 40 minutes)."""
    if rng.random() < 0.2:
        return None
    wait = min(rng.lognormvariate(math.log(40), 1.0), 36 * 60)
    at = when + timedelta(minutes=wait)
    return at if at <= now else None


def _social_rss(gen: _Gen) -> str:
    """RSS 2.0 as a social-listening bridge would export it: one item per post, the post as the title; the
    care account's answers carry Atom threading's thr:in-reply-to (RFC 4685), as bridges write it."""
    items = []
    care = random.Random(REPLIES_SEED)  # noqa: S311 - sample data, repeatable by design
    for i, item in enumerate(_social_items(gen)):
        handle = gen.rng.choice(HANDLES)
        link = f"https://social.example/{handle}/status/{1_700_000_000_000 + i * 7919}"
        items.append(_rss_item(item.text, link, escape(item.text), f"@{handle}", item.when, link))
        answered = _care_reply(care, item.when, gen.now) if ADDRESSED.lower() in item.text.lower() else None
        if answered is not None:
            text = care.choice(CARE_REPLIES).format(handle=handle)
            reply = f"https://social.example/{CARE_ACCOUNT}/status/{2_000_000_000_000 + i * 7919}"
            items.append(_rss_item(text, reply, escape(text), f"@{CARE_ACCOUNT}", answered, reply, in_reply_to=link))
    for j, (title, link, text, author) in enumerate(HOSTILE):
        when = gen.now - timedelta(days=3 + 11 * j, hours=5)
        items.append(_rss_item(title, link, escape(gen.fill(text)), author, when, f"hostile-{j}"))
    others = _Gen(COMPETITOR_SEED, gen.now, gen.days)
    for i, item in enumerate(_competitor_items(others)):
        handle = others.rng.choice(HANDLES)
        link = f"https://social.example/{handle}/status/{1_800_000_000_000 + i * 7919}"
        items.append(_rss_item(item.text, link, escape(item.text), f"@{handle}", item.when, link))
    abroad = _Gen(ABROAD_SEED, gen.now, gen.days)
    for i, item in enumerate(_abroad_items(abroad)):
        handle = abroad.rng.choice(HANDLES)
        link = f"https://social.example/{handle}/status/{1_900_000_000_000 + i * 7919}"
        items.append(_rss_item(item.text, link, escape(item.text), f"@{handle}", item.when, link))
    return _rss("Acme Air on social media", "https://social.example/search?q=acme+air", gen.now, items)


def _rss_item(title: str, link: str, description_xml: str, author: str, when: datetime, guid: str, *,
              in_reply_to: str = "") -> str:
    # author with CR/LF survives XML only as character references; that is how a hostile feed sends it
    author_xml = escape(author).replace("\r", "&#13;").replace("\n", "&#10;")
    thread = f"<thr:in-reply-to ref=\"{escape(in_reply_to)}\"/>" if in_reply_to else ""
    return (f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
            f"<guid isPermaLink=\"false\">{escape(guid)}</guid><author>{author_xml}</author>{thread}"
            f"<pubDate>{_rfc822(when)}</pubDate><description>{description_xml}</description></item>")


def _rss(title: str, link: str, now: datetime, items: list[str]) -> str:
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
            f"<rss version=\"2.0\" xmlns:thr=\"http://purl.org/syndication/thread/1.0\"><channel><title>{escape(title)}</title><link>{escape(link)}</link>"
            f"<description>{escape(title)}</description><lastBuildDate>{_rfc822(now)}</lastBuildDate>\n"
            + "\n".join(items) + "\n</channel></rss>\n")


def _google_link(gen: _Gen, real: str) -> str:
    token = "".join(gen.rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                    for _ in range(20))
    return f"https://www.google.com/url?rct=j&sa=t&url={real}&ct=ga&cd=CAIyGjk{token}&usg=AOvVaw{token}"


def _alerts_atom(gen: _Gen) -> str:
    """A Google Alerts feed: <b> in titles, links wrapped in google.com/url redirects, news and blogs."""
    entries = [(t, gen.pick(NEWS)) for t in gen.times(1.3, SOCIAL_HOURS, SOCIAL_WEEK)]
    entries += [(t, NEWS_SPIKE) for t in gen.recent(2, 20)]
    out = []
    for i, (when, template) in enumerate(sorted(entries)):
        title, snippet = gen.fill(template).split("|", 1)
        snippet = f"{when.astimezone(TZ):%b %-d, %Y} ... {snippet}"
        site = gen.rng.choice(("news.example.com", "travelwire.example.org", "airlineinsider.example.net"))
        real = f"https://{site}/{when:%Y/%m/%d}/story-{i}"
        out.append(
            f"<entry><id>tag:google.com,2013:googlealerts/feed:{1000 + i}</id>"
            f"<title type=\"html\">{escape(title)}</title>"
            f"<link href={quoteattr(_google_link(gen, real))}/>"
            f"<published>{_iso(when)}</published><updated>{_iso(when)}</updated>"
            f"<content type=\"html\">{escape(snippet)}</content><author><name></name></author></entry>")
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"
            "<id>tag:google.com,2013:googlealerts/feed:acme</id><title>Google Alert - acme air</title>"
            "<link href=\"https://www.google.com/alerts/feeds/0/0\" rel=\"self\"/>"
            f"<updated>{_iso(gen.now)}</updated>\n"
            + "\n".join(out) + "\n</feed>\n")


def _reddit_atom(gen: _Gen) -> str:
    """A Reddit search feed (Atom): author /u/name, a 'submitted by' footer in the content."""
    entries = [(t, gen.pick(REDDIT)) for t in gen.times(1.5, SOCIAL_HOURS, SOCIAL_WEEK)]
    entries += [(t, REDDIT_EMERGING) for t in gen.ramp(6, 21)]
    entries += [(t, REDDIT_SPIKE) for t in gen.recent(8, 40)]
    out = []
    for i, (when, template) in enumerate(sorted(entries)):
        title, body = gen.fill(template + gen.rng.choice(TRAILERS)).split("|", 1)
        user = gen.rng.choice(REDDITORS)
        sub = gen.rng.choice(("travel", "flying", "airlines", "onebag"))
        post = f"t3_{i:06x}"
        link = f"https://www.reddit.example/r/{sub}/comments/{i:06x}/post/"
        html = (f"<!-- SC_OFF --><div class=\"md\"><p>{escape(body)}</p></div><!-- SC_ON --> "
                "&#32; submitted by "
                f"&#32; <a href=\"https://www.reddit.example/user/{user}\"> /u/{user} </a> &#32; to &#32; "
                f"<a href=\"https://www.reddit.example/r/{sub}/\"> r/{sub} </a> <br/> "
                f"<span><a href=\"{link}\">[link]</a></span> &#32; "
                f"<span><a href=\"{link}\">[comments]</a></span>")
        out.append(f"<entry><author><name>/u/{user}</name><uri>https://www.reddit.example/user/{user}</uri>"
                   f"</author><category term=\"{sub}\" label=\"r/{sub}\"/>"
                   f"<content type=\"html\">{escape(html)}"
                   f"</content><id>{post}</id><link href=\"{link}\"/><updated>{_iso(when)}</updated>"
                   f"<published>{_iso(when)}</published><title>{escape(title)}</title></entry>")
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"
            "<category term=\"search\"/><id>/search.rss?q=%22acme%20air%22</id>"
            f"<title>acme air - search results</title><updated>{_iso(gen.now)}</updated>\n"
            + "\n".join(out) + "\n</feed>\n")


def _reviews_rss(gen: _Gen) -> str:
    """A review site's feed for the airline's page: star ratings in the titles and in <rating>."""
    entries = [(t, gen.pick(REVIEWS)) for t in gen.times(1.2, SOCIAL_HOURS, SOCIAL_WEEK)]
    entries += [(t, REVIEWS_SPIKE[0]) for t in gen.recent(5, 44)]
    items = []
    for i, (when, review) in enumerate(sorted(entries, key=lambda e: e[0])):
        stars, title, body = review
        glyphs = "★" * int(stars) + "☆" * (5 - int(stars))
        link = f"https://reviews.example/acme-air/review/{50_000 + i}"
        trip = gen.fill(f"Flew {{city}} to {{city2}} in {when.astimezone(TZ):%B}, flight {{fl}}.")
        item = _rss_item(f"{glyphs} {title}", link, escape(f"<p>{gen.fill(body)}</p><p>{trip}</p>"),
                         gen.rng.choice(NAMES) + " " + gen.rng.choice("BCDFGHJKLMNPRST") + ".", when, link)
        items.append(item.replace("</item>", f"<rating>{int(stars)}</rating></item>"))
    return _rss("Acme Air reviews", "https://reviews.example/acme-air", gen.now, items)


def _blog_json(gen: _Gen) -> str:
    """A JSON Feed of travel-blog posts about the airline, a couple a week."""
    entries = [(t, gen.rng.choice(BLOG)) for t in gen.times(0.3, SOCIAL_HOURS, SOCIAL_WEEK)]
    entries.append((gen.now - timedelta(hours=9), BLOG_SPIKE))
    items = []
    for i, (when, (title, html)) in enumerate(sorted(entries, key=lambda e: e[0])):
        signed = f"<p>Written on {when.astimezone(TZ):%B %-d}.</p>"
        items.append({"id": f"https://blog.example/posts/{i}", "url": f"https://blog.example/posts/{i}",
                      "title": gen.fill(title, "Acme Air"),
                      "content_html": gen.fill(html, "Acme Air") + signed,
                      "date_published": _iso(when), "authors": [{"name": gen.rng.choice(NAMES)}]})
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Runway Notes: a travel blog",
            "home_page_url": "https://blog.example/", "feed_url": "https://blog.example/feed.json",
            "items": items[::-1]}
    return json.dumps(feed, indent=1, ensure_ascii=False) + "\n"


def _calls_csv(gen: _Gen, out: Path) -> list[Path]:
    """Monthly call-center exports calls-YYYY-MM.csv with naive local timestamps as agents' tools write "
      "them."""
    weights = [w for w, _, _ in CALLS]
    rows = [(t, gen.rng.choices(CALLS, weights)[0]) for t in gen.times(17, CALL_HOURS, CALL_WEEK)]
    calls = [(t, cat, gen.fill(gen.rng.choice(notes))) for t, (_, cat, notes) in rows]
    calls += [(t, CALLS_EMERGING[0], gen.fill(CALLS_EMERGING[1])) for t in gen.ramp(25, 21)]
    calls += [(t, CALLS_SPIKE[0], gen.fill(CALLS_SPIKE[1])) for t in gen.recent(45, 46, 1.3)]
    by_month: dict[str, list[list[str]]] = {}
    for n, (when, category, notes) in enumerate(sorted(calls)):
        local = when.astimezone(TZ)
        answered = _first_response(n, when, gen.now)
        by_month.setdefault(f"{local:%Y-%m}", []).append(
            [f"CC-{local:%y%m}-{n:05d}", f"{local:%m/%d/%Y %H:%M}", gen.rng.choice(AGENTS), category, notes,
             f"{answered.astimezone(TZ):%m/%d/%Y %H:%M}" if answered else ""])
    paths = []
    for month, month_rows in sorted(by_month.items()):
        path = out / f"calls-{month}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["ticket_id", "created_at", "agent", "category", "notes", "first_response_at"])
            writer.writerows(month_rows)
        paths.append(path)
    return paths


def _first_response(n: int, when: datetime, now: datetime) -> datetime | None:
    """When the call center first answered ticket `n`: most within the hour, some after a day, a few never.

    Its own generator per ticket, so that the rest of the sample stays as it was."""
    rng = random.Random(f"first-response-{n}")  # noqa: S311 - sample data, not secrets
    if rng.random() < 0.08:
        return None
    minutes = rng.lognormvariate(3.3, 1.1)  # median about 27 minutes, a long tail of days
    answered = when + timedelta(minutes=minutes)
    return answered if answered <= now else None


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m digest.sample [DIR]`: write the sample under DIR (default: the current directory)."""
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0]) if args else Path.cwd()
    paths = write_sample(directory, datetime.now(UTC))
    print(f"wrote {len(paths)} files under {directory / GENERATED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
