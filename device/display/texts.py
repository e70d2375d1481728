"""Every word the kiosk's screens show, one catalogue per language.

A typed catalogue rather than gettext: the kiosk has a few dozen short phrases and two
languages, so a frozen dataclass per language is lighter on the Pi (no .mo files to compile
and ship, no Babel at run time, no global "current locale"), mypy refuses a language that
misses a phrase, and tests/display checks that every language uses the same `{placeholders}`.
The screens' own words (render.py) and the core's (toasts, technician rows, screens.py) both
come from here; the language is chosen per kiosk (`[display] language`, kiosk.toml, or the
tenant's desired state) and travels on each screen, so drawing stays a pure function.

Phrases are sized for the 128x64 panel: a bold line holds 21 characters, a body line 21, a
small line 25; longer text is wrapped or ended with an ellipsis by render.py.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from contract.languages import DEFAULT_LANGUAGE, LANGUAGES, Language

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Language", "Texts", "texts_for"]


@dataclass(frozen=True)
class Texts:
    # Drawn by render.py around the data a screen carries.
    starting: str
    paused: str
    volume: str
    volume_min: str
    volume_max: str
    invite: str  # the attract screen's call to action; "▶" is drawn as the play sign
    claim_prompt: str
    claim_hint: str
    withdrawn: str
    withdrawn_detail: str  # {tenant}
    the_network: str  # the tenant when its name is unknown
    reclaim: str  # {code}
    technician: str
    no_information: str
    this_kiosk_is: str
    # Chosen by the core (screens.py, toasts).
    loading_music: str
    no_music: str
    no_music_detail: str
    ask_staff: str
    nothing_to_play: str
    no_playlist: str
    no_track_of: str  # {playlist}
    track_unavailable: str
    cannot_play: str
    closed: str  # a visitor's play refused outside opening hours (when_closed = refuse)
    back_at: str  # {when}: "10:00", or "tue 10:00"
    not_available_now: str  # a playlist outside its own hours
    available_from: str  # {playlist} {when}
    weekdays: str  # seven short names from Monday, separated by spaces
    # Technician rows: labels, and the few values made of words.
    row_device: str
    row_firmware: str
    row_ip: str
    no_network: str
    row_content: str
    content_value: str  # {playlists} {available} {total}
    row_journal: str
    journal_value: str  # {open} {finished}
    row_volume: str
    row_tenant: str
    row_sync: str
    row_remote: str
    row_audio: str
    row_problem: str
    row_last_error: str
    # The self-test (device/core/selftest.py).
    row_self_test: str
    self_test_hint: str  # the technician row before the first run
    self_test: str
    tone: str
    tone_playing: str
    tone_ok: str
    tone_failed: str
    press_each: str
    self_test_done: str
    knob_clockwise: str
    knob_counter_clockwise: str

    def phrases(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


EN = Texts(
    starting="Starting",
    paused="Paused",
    volume="Volume",
    volume_min="min",
    volume_max="max",
    invite="Press ▶ to listen",
    claim_prompt="Claim this kiosk:",
    claim_hint="jukebox admin claim CODE",
    withdrawn="Kiosk withdrawn",
    withdrawn_detail="No longer active for {tenant}. Ask the library staff.",
    the_network="the library network",
    reclaim="Re-claim: {code}",
    technician="Technician",
    no_information="No information yet",
    this_kiosk_is="This kiosk is",
    loading_music="Loading music",
    no_music="No music yet",
    no_music_detail="Waiting for the library's playlists.",
    ask_staff="Ask the library staff.",
    nothing_to_play="Nothing to play",
    no_playlist="No playlist is available yet.",
    no_track_of="No track of '{playlist}' is available.",
    track_unavailable="Track unavailable",
    cannot_play="Cannot play track",
    closed="Closed",
    back_at="Back at {when}.",
    not_available_now="Not available now",
    available_from="'{playlist}' from {when}.",
    weekdays="mon tue wed thu fri sat sun",
    row_device="Device",
    row_firmware="Firmware",
    row_ip="IP",
    no_network="no network",
    row_content="Content",
    content_value="{playlists} lists, {available}/{total} tracks",
    row_journal="Journal",
    journal_value="{open} open, {finished} done",
    row_volume="Volume",
    row_tenant="Tenant",
    row_sync="Sync",
    row_remote="Remote",
    row_audio="Audio",
    row_problem="Problem",
    row_last_error="Last error",
    row_self_test="Self-test",
    self_test_hint="press ▶",
    self_test="Self-test",
    tone="Tone",
    tone_playing="playing…",
    tone_ok="played",
    tone_failed="FAILED",
    press_each="Press each, turn the knob",
    self_test_done="Done: result kept",
    knob_clockwise="knob +",
    knob_counter_clockwise="knob -",
)

FR = Texts(
    starting="Démarrage",
    paused="Pause",
    volume="Volume",
    volume_min="min",
    volume_max="max",
    invite="Appuyez sur ▶",
    claim_prompt="Associer ce kiosque :",
    claim_hint="jukebox admin claim CODE",
    withdrawn="Kiosque retiré",
    withdrawn_detail="Plus en service pour {tenant}. Voir l'accueil.",
    the_network="le réseau des bibliothèques",
    reclaim="Réassocier : {code}",
    technician="Technicien",
    no_information="Pas encore d'information",
    this_kiosk_is="Ce kiosque est",
    loading_music="Musique en chargement",
    no_music="Aucune musique",
    no_music_detail="En attente des playlists de la bibliothèque.",
    ask_staff="Adressez-vous à l'accueil.",
    nothing_to_play="Rien à écouter",
    no_playlist="Aucune playlist n'est encore disponible.",
    no_track_of="Aucun morceau de « {playlist} » n'est disponible.",
    track_unavailable="Titre indisponible",
    cannot_play="Lecture impossible",
    closed="Fermé",
    back_at="Retour à {when}.",
    not_available_now="Pas disponible",
    available_from="« {playlist} » dès {when}.",
    weekdays="lun mar mer jeu ven sam dim",
    row_device="Appareil",
    row_firmware="Logiciel",
    row_ip="IP",
    no_network="pas de réseau",
    row_content="Contenu",
    content_value="{playlists} listes, {available}/{total} titres",
    row_journal="Journal",
    journal_value="{open} en cours, {finished} finies",
    row_volume="Volume",
    row_tenant="Réseau",
    row_sync="Synchro",
    row_remote="À distance",
    row_audio="Son",
    row_problem="Problème",
    row_last_error="Dernière erreur",
    row_self_test="Autotest",
    self_test_hint="appuyez sur ▶",
    self_test="Autotest",
    tone="Son",
    tone_playing="en cours…",
    tone_ok="joué",
    tone_failed="ÉCHEC",
    press_each="Appuyez, tournez",
    self_test_done="Fini : résultat gardé",
    knob_clockwise="molette +",
    knob_counter_clockwise="molette -",
)

CATALOGUES: dict[Language, Texts] = {"en": EN, "fr": FR}


def texts_for(language: Language) -> Texts:
    return CATALOGUES[language]
