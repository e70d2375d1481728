"""The console's two languages: English messages as keys, their French, and Babel formats.

A small catalogue module rather than .po files: the console has a few hundred words, and one
file keeps each English text beside its French. A text without French shows in English.
Dates, times and numbers follow the reader's locale through Babel (`fr_FR`, `en_GB`).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

from tenant.payouts.currencies import minor_units

LANGUAGES = ("en", "fr")
LOCALES = {"en": "en_GB", "fr": "fr_FR"}
LANG_COOKIE = "jk_lang"

FR: dict[str, str] = {
    "Jukebox console": "Console Jukebox",
    "Sign in": "Se connecter",
    "Sign out": "Se déconnecter",
    "Username": "Identifiant",
    "Password": "Mot de passe",
    "Language": "Langue",
    "Kiosks": "Bornes",
    "Tracks": "Morceaux",
    "Playlists": "Playlists",
    "Sites": "Sites",
    "Reports": "Rapports",
    "Audit": "Journal",
    "Main menu": "Menu principal",
    "Signed in as": "Connecté·e en tant que",
    "Name": "Nom",
    "Site": "Site",
    "Online": "En ligne",
    "Offline": "Hors ligne",
    "since": "depuis",
    "Now playing": "En lecture",
    "Volume": "Volume",
    "Content": "Contenu",
    "Firmware": "Micrologiciel",
    "Outbox": "En attente d'envoi",
    "Last heartbeat": "Dernier signal",
    "Problems": "Problèmes",
    "Rollout": "Déploiement",
    "never seen": "jamais vue",
    "none": "aucun",
    "Claim a kiosk": "Rattacher une borne",
    "Claim code": "Code de rattachement",
    "Claim": "Rattacher",
    "Manage a kiosk": "Gérer une borne",
    "Rename or move": "Renommer ou déplacer",
    "Save": "Enregistrer",
    "Revoke": "Révoquer",
    "Identify": "Identifier",
    "Resync": "Resynchroniser",
    "Reboot": "Redémarrer",
    "Diagnostics": "Diagnostic",
    "Command": "Commande",
    "Waiting for the kiosk…": "En attente de la borne…",
    "Result": "Résultat",
    "Error": "Erreur",
    "Back": "Retour",
    "Search": "Rechercher",
    "Filter": "Filtrer",
    "Title": "Titre",
    "Artist": "Artiste",
    "Album": "Album",
    "Duration": "Durée",
    "Add tracks": "Ajouter des morceaux",
    "Drop audio files here, or choose them": "Déposez des fichiers audio ici, ou choisissez-les",
    "Choose files": "Choisir des fichiers",
    "Upload": "Envoyer",
    "uploaded": "envoyé",
    "New playlist": "Nouvelle playlist",
    "Edit": "Modifier",
    "Rights holder": "Ayant droit",
    "Identifier": "Identifiant",
    "Note": "Note",
    "Valid from": "Valable du",
    "Valid until": "Valable jusqu'au",
    "Opening hours": "Horaires",
    "e.g. mon-sat 10:00-19:00, one per line": "ex. mon-sat 10:00-19:00, un par ligne",
    "Tracks, in order": "Morceaux, dans l'ordre",
    "Available tracks": "Morceaux disponibles",
    "Add": "Ajouter",
    "Remove": "Retirer",
    "Up": "Monter",
    "Down": "Descendre",
    "Sites getting it": "Sites qui la reçoivent",
    "Featured": "À la une",
    "Screen preview": "Aperçu de l'écran",
    "Push to this site's kiosks": "Envoyer aux bornes de ce site",
    "Featured playlist": "Playlist à la une",
    "Minimum volume": "Volume minimum",
    "Maximum volume": "Volume maximum",
    "keep": "inchangé",
    "Push": "Envoyer",
    "Pushed": "Envoyé",
    "applied": "appliqué",
    "syncing": "synchronisation",
    "pending": "en attente",
    "offline": "hors ligne",
    "rejected": "refusé",
    "From": "Du",
    "To": "Au",
    "Group by": "Regrouper par",
    "track": "morceau",
    "artist": "artiste",
    "playlist": "playlist",
    "site": "site",
    "device": "borne",
    "All sites": "Tous les sites",
    "kiosks": "bornes",
    "page": "page",
    "Previous": "Précédente",
    "Next": "Suivante",
    "day": "jour",
    "Show": "Afficher",
    "Plays": "Écoutes",
    "Counted plays": "Écoutes comptées",
    "Time listened": "Temps d'écoute",
    "Total": "Total",
    "Plays per day": "Écoutes par jour",
    "Download CSV": "Télécharger en CSV",
    "When": "Quand",
    "Who": "Qui",
    "Action": "Action",
    "Object": "Objet",
    "Before": "Avant",
    "After": "Après",
    "User": "Utilisateur",
    "Since": "Depuis",
    "No kiosk yet.": "Aucune borne pour l'instant.",
    "Nothing here yet.": "Rien pour l'instant.",
    "You may not open this page.": "Vous ne pouvez pas ouvrir cette page.",
    "Page not found.": "Page introuvable.",
    "Saved.": "Enregistré.",
    "Claimed.": "Rattachée.",
    "Revoked.": "Révoquée.",
    "Retired.": "Retiré.",
    "Retire": "Retirer du catalogue",
    "retired": "retiré",
    "updated live": "mis à jour en direct",
    "Skip to content": "Aller au contenu",
    "Payout statements": "Relevés de rémunération",
    "Payout statement": "Relevé de rémunération",
    "Period": "Période",
    "State": "État",
    "Closed by": "Clôturée par",
    "closed": "clôturée",
    "open": "ouverte",
    "preview only": "aperçu seulement",
    "Signed: this statement never changes.": "Signé : ce relevé ne changera plus.",
    "Open period: a preview with the plays received so far; nothing is kept until the "
    "network administrator closes it.": (
        "Période ouverte : un aperçu avec les écoutes reçues jusqu'ici ; rien n'est conservé "
        "avant sa clôture par l'administrateur du réseau."
    ),
    "Per library": "Par bibliothèque",
    "Per rights holder": "Par ayant droit",
    "Library": "Bibliothèque",
    "Amount": "Montant",
    "Held (no known rights holder)": "Réservé (ayant droit inconnu)",
    "Unallocated": "Non réparti",
    "Download": "Télécharger",
    "Library-centric": "Par bibliothèque (versé)",
    "Pro-rata (for comparison)": "Au prorata (pour comparaison)",
    "No known rights holder: held": "Ayant droit inconnu : réservé",
    "Time zone and when closed": "Fuseau horaire et fermeture",
    "Time zone": "Fuseau horaire",
    "blank: the network's": "vide : celui du réseau",
    "the kiosk's own": "celui de la borne",
    "When closed": "Hors des horaires",
    "the network's": "celui du réseau",
    "allow": "écoute permise",
    "refuse": "écoute refusée",
    "set by the network administrator": "réglé par l'administrateur du réseau",
    "Screen language": "Langue de l'écran",
    "Autoplay": "Lecture automatique",
    "mixed": "variable",
    "on": "activée",
    "off": "désactivée",
    "Idle timeout (seconds)": "Retour à l'accueil après (secondes)",
    "from 1 to 86400": "de 1 à 86400",
    "My account": "Mon compte",
    "the browser's": "celle du navigateur",
    "Kept with your account and used each time you sign in, on any computer.": (
        "Conservée avec votre compte et reprise à chaque connexion, sur tout ordinateur."
    ),
    "Rights holders": "Ayants droit",
    "Several rights holders…": "Plusieurs ayants droit…",
    "Their percentages add up to 100. No row: no known rights holder (the money is held).": (
        "Leurs pourcentages font 100 au total. Aucune ligne : ayant droit inconnu (l'argent "
        "est réservé)."
    ),
    # the kiosk's call to action, as device/display/texts.py words it, for the note's preview
    "Press ▶ to listen": "Appuyez sur ▶",
    "How the note looks on the kiosk's screen, page by page": (
        "La note sur l'écran de la borne, page par page"
    ),
}


@functools.lru_cache(maxsize=4096)  # a board repeats the same minutes and small numbers
def _short_time(minute: int, locale: str) -> str:
    moment = datetime.fromtimestamp(minute * 60, UTC)
    return format_datetime(moment, "short", tzinfo=UTC, locale=locale) + " UTC"


@functools.lru_cache(maxsize=4096)
def _decimal(value: float | int, digits: int, locale: str) -> str:
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale)


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The reader's choice (cookie), else the first language of the browser we speak."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


class Translator:
    """`t("Kiosks")` in the reader's language, and their dates and numbers."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self.locale = LOCALES[self.language]

    def __call__(self, text: str) -> str:
        return FR.get(text, text) if self.language == "fr" else text

    def datetime(self, ms: int | None) -> str:
        if ms is None:
            return "—"
        return _short_time(ms // 60_000, self.locale)  # "short" shows minutes: one per minute

    def date(self, ms: int) -> str:
        return format_date(datetime.fromtimestamp(ms / 1000, UTC), "medium", locale=self.locale)

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "—"
        return _decimal(value, digits, self.locale)

    def money(self, amount_minor: int, currency: str) -> str:
        """Integer minor units as money in the reader's locale ("1 234,56 €", "€1,234.56"):
        a Decimal scaled by the currency's exponent, never a float."""
        amount = Decimal(amount_minor).scaleb(-minor_units(currency))
        return format_currency(amount, currency, locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "—"
        total = round(seconds)
        hours, rest = divmod(total, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"
