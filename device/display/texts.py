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

Code that cannot know the language (the technician stick's root helper and its watcher thread:
the core owns the language, which the desired state may change at any time) says a `Phrase`,
a catalogue key and its arguments, and the core says it in the kiosk's language when shown.

Over 400 lines on purpose: most of it is the two catalogues themselves.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, fields

from contract.languages import DEFAULT_LANGUAGE, LANGUAGES, Language

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Language",
    "Phrase",
    "Texts",
    "phrase",
    "texts_for",
    "verbatim",
]


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
    self_test_summary: str  # {verdict} {tone} {seen} {checks}: the technician row's result
    self_test_passed: str
    self_test_failed: str
    self_test_tone_playing: str
    self_test_tone_ok: str
    self_test_tone_failed: str
    self_test_missing: str  # {names}
    # Technician row values made of words.
    enrollment_enrolling: str
    enrollment_pending: str
    enrollment_active: str
    enrollment_revoked: str
    enrollment_unreachable: str
    sync_checking: str
    sync_downloading: str
    sync_complete: str
    sync_failed: str
    sync_offline: str
    sync_files: str  # {done} {total} {percent}
    calendar_open: str
    calendar_closed: str
    calendar_scheduled: str  # {state} {playlist}
    clock_unsynced: str
    audio_builtin: str  # {output}
    # The technician stick (device/stick): titles, then lines, said as `Phrase`s.
    stick_read: str
    stick_not_read: str
    stick_refused: str
    pack_refused: str
    remove_stick: str
    internal_error: str
    nothing_changed: str
    content_unchanged: str
    site_line: str  # {site} {name}
    tenant_line: str  # {url}
    wifi_line: str  # {ssid}
    wired_network: str
    restart_to_use: str
    site_unchanged: str
    kiosk_unchanged: str
    settings_values: str  # {section} {values}: one kiosk.toml table
    settings_defaults: str  # {section}
    settings_count: str  # {section} {count}: an array of tables
    applied_now: str
    restart_for: str  # {settings}
    pack_imported: str  # {playlists} {files}
    pack_gone: str
    pack_not_imported: str  # {error}
    kiosk_no_answer: str
    writing_diagnostics: str
    diagnostics_in: str  # {path}
    diagnostics_not_written: str  # {error}

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
    self_test_summary="{verdict}: tone {tone}, {seen}/{checks} inputs",
    self_test_passed="passed",
    self_test_failed="FAILED",
    self_test_tone_playing="playing",
    self_test_tone_ok="ok",
    self_test_tone_failed="failed",
    self_test_missing=", missing {names}",
    enrollment_enrolling="enrolling",
    enrollment_pending="pending",
    enrollment_active="active",
    enrollment_revoked="revoked",
    enrollment_unreachable="unreachable",
    sync_checking="checking",
    sync_downloading="downloading",
    sync_complete="complete",
    sync_failed="failed",
    sync_offline="offline",
    sync_files="{done}/{total} files, {percent}%",
    calendar_open="open",
    calendar_closed="closed",
    calendar_scheduled="{state}, schedule {playlist}",
    clock_unsynced="clock not synced: hours and schedule ignored",
    audio_builtin="built-in ({output})",
    stick_read="Stick read",
    stick_not_read="Stick not read",
    stick_refused="Stick refused",
    pack_refused="Pack refused",
    remove_stick="Remove the stick",
    internal_error="an internal error; see the logs",
    nothing_changed="Nothing changed",
    content_unchanged="Content unchanged",
    site_line="Site: {site}, {name}",
    tenant_line="Tenant: {url}",
    wifi_line="Wi-Fi {ssid}",
    wired_network="wired network",
    restart_to_use="Restart the kiosk to use them",
    site_unchanged="Site settings: already these",
    kiosk_unchanged="Kiosk settings: already these",
    settings_values="{section}: {values}",
    settings_defaults="{section}: defaults",
    settings_count="{section}: {count} defined",
    applied_now="Applied now",
    restart_for="Restart the kiosk for: {settings}",
    pack_imported="Pack: {playlists} playlist(s), {files} file(s)",
    pack_gone="The pack disappeared from the stick",
    pack_not_imported="Pack not imported: {error}",
    kiosk_no_answer="The kiosk did not answer in time",
    writing_diagnostics="Writing diagnostics...",
    diagnostics_in="Diagnostics in {path}",
    diagnostics_not_written="Diagnostics not written: {error}",
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
    self_test_summary="{verdict} : son {tone}, {seen}/{checks} entrées",
    self_test_passed="réussi",
    self_test_failed="ÉCHEC",
    self_test_tone_playing="en cours",
    self_test_tone_ok="ok",
    self_test_tone_failed="en échec",
    self_test_missing=", manque : {names}",
    enrollment_enrolling="inscription",
    enrollment_pending="en attente",
    enrollment_active="actif",
    enrollment_revoked="retiré",
    enrollment_unreachable="injoignable",
    sync_checking="vérification",
    sync_downloading="téléchargement",
    sync_complete="à jour",
    sync_failed="échec",
    sync_offline="hors ligne",
    sync_files="{done}/{total} fichiers, {percent} %",
    calendar_open="ouvert",
    calendar_closed="fermé",
    calendar_scheduled="{state}, programme {playlist}",
    clock_unsynced="horloge non réglée : horaires et programme ignorés",
    audio_builtin="intégré ({output})",
    stick_read="Clé lue",
    stick_not_read="Clé non lue",
    stick_refused="Clé refusée",
    pack_refused="Paquet refusé",
    remove_stick="Retirez la clé",
    internal_error="erreur interne ; voir les journaux",
    nothing_changed="Rien n'a été modifié",
    content_unchanged="Contenu inchangé",
    site_line="Site : {site}, {name}",
    tenant_line="Réseau : {url}",
    wifi_line="Wi-Fi {ssid}",
    wired_network="réseau filaire",
    restart_to_use="Redémarrez le kiosque pour les appliquer",
    site_unchanged="Réglages du site : déjà ceux-ci",
    kiosk_unchanged="Réglages du kiosque : déjà ceux-ci",
    settings_values="{section} : {values}",
    settings_defaults="{section} : par défaut",
    settings_count="{section} : {count} défini(s)",
    applied_now="Appliqués tout de suite",
    restart_for="Redémarrez le kiosque pour : {settings}",
    pack_imported="Paquet : {playlists} playlist(s), {files} fichier(s)",
    pack_gone="Le paquet a disparu de la clé",
    pack_not_imported="Paquet non importé : {error}",
    kiosk_no_answer="Le kiosque n'a pas répondu à temps",
    writing_diagnostics="Écriture du diagnostic…",
    diagnostics_in="Diagnostic dans {path}",
    diagnostics_not_written="Diagnostic non écrit : {error}",
)

CATALOGUES: dict[Language, Texts] = {"en": EN, "fr": FR}


def texts_for(language: Language) -> Texts:
    return CATALOGUES[language]


_KEYS = frozenset(f.name for f in fields(Texts))


def _placeholders(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


@dataclass(frozen=True)
class Phrase:
    """A line said by catalogue key and arguments, in the kiosk's language when it is shown.

    Key "" is text shown as it is, in every language: a file's problem, a path. A phrase is
    checked when made (the key exists, the arguments are its placeholders), so saying it never
    fails, and a verdict naming an unknown phrase is refused when read.
    """

    key: str
    args: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        names = frozenset(name for name, _ in self.args)
        if not self.key:
            if names != {"text"}:
                raise ValueError("a verbatim phrase takes exactly one argument, text")
            return
        if self.key not in _KEYS:
            raise ValueError(f"no phrase {self.key!r} in the screen catalogue")
        expected = _placeholders(getattr(EN, self.key))
        if names != expected:
            raise ValueError(f"phrase {self.key!r} takes {sorted(expected)}, got {sorted(names)}")

    def say(self, words: Texts) -> str:
        values = dict(self.args)
        return values["text"] if not self.key else getattr(words, self.key).format_map(values)

    def to_json(self) -> object:
        """A JSON value: the text itself when verbatim, else {"key": …, "args": {…}}."""
        args = dict(self.args)
        return args["text"] if not self.key else {"key": self.key, "args": args}

    @classmethod
    def from_json(cls, value: object) -> Phrase:
        """The phrase `to_json` wrote; ValueError for anything else."""
        if isinstance(value, str):
            return verbatim(value)
        if not isinstance(value, Mapping) or not isinstance(value.get("key"), str):
            raise ValueError(f"not a phrase: {value!r:.80}")
        args = value.get("args", {})
        if not isinstance(args, Mapping):
            raise ValueError(f"phrase {value['key']!r}: args is not an object")
        return phrase(value["key"], **{str(k): v for k, v in args.items()})


def phrase(key: str, **args: object) -> Phrase:
    """The catalogue's phrase `key` with its placeholders' values (ValueError if they differ)."""
    return Phrase(key, tuple(sorted((name, str(value)) for name, value in args.items())))


def verbatim(text: str) -> Phrase:
    """Text shown as it is in every language."""
    return Phrase("", (("text", text),))
