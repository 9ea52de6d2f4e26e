#!/usr/bin/env bash
# Debian packages sgtr uses beside its Python ones: font families for the synthetic renderer and Tesseract, the
# peer engine `sgtr evaluate --engine tesseract` compares against. Needs root; safe to run again.
#
# Works on a machine that lacks any or all of them: installs what the archive offers, names what it skipped and
# exits 0. Sourcing the file (`source scripts/setup-system.sh`) only defines the functions, which the tests call.
set -euo pipefail

# To add a package, add a line to the array; one package per line, grouped by what needs it.
PACKAGES=(
  # fonts for `sgtr synth`
  fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf fonts-noto-core fonts-roboto-unhinted
  fonts-open-sans fonts-lato fonts-crosextra-carlito fonts-crosextra-caladea fonts-ebgaramond fonts-cantarell
  fonts-firacode fonts-inconsolata fonts-urw-base35 fonts-comic-neue fonts-dancingscript fonts-bebas-neue
  fonts-linuxlibertine fonts-texgyre fonts-go fonts-hack fonts-jetbrains-mono fonts-courier-prime fonts-cabin
  fonts-comfortaa fonts-quicksand fonts-play fonts-league-spartan fonts-yanone-kaffeesatz fonts-lobster fonts-jura
  fonts-sil-gentium fonts-cardo fonts-paratype fonts-averia-sans-gwf fonts-averia-serif-gwf fonts-humor-sans
  # more faces for `sgtr synth`: decorative, condensed, handwriting, signage (about 1,400 Latin faces in all)
  fonts-3270 fonts-adf-accanthis fonts-adf-baskervald fonts-adf-berenis fonts-adf-gillius fonts-adf-ikarius
  fonts-adf-irianis fonts-adf-libris fonts-adf-mekanus fonts-adf-oldania fonts-adf-romande fonts-adf-solothurn
  fonts-adf-switzera fonts-adf-tribun fonts-adf-universalis fonts-adf-verana fonts-aenigma fonts-agave fonts-allerta
  fonts-anonymous-pro fonts-apropal fonts-arapey fonts-arkpandora fonts-averia-gwf fonts-b612 fonts-babelstone-modern
  fonts-bajaderka fonts-beteckna fonts-blankenburg fonts-breip fonts-bwht fonts-cabinsketch fonts-century-catalogue
  fonts-cherrybomb fonts-clear-sans fonts-cmu fonts-compagnon fonts-croscore fonts-dejavu-extra fonts-dkg-handwriting
  fonts-dosis fonts-dseg fonts-dustin fonts-ebgaramond-extra fonts-ecolier-court fonts-engadget fonts-essays1743
  fonts-eurofurence fonts-f500 fonts-fantasma fonts-fantasque-sans fonts-fanwood fonts-femkeklaver fonts-ferrite-core
  fonts-gamaliel fonts-georgewilliams fonts-gfs-neohellenic fonts-gnutypewriter fonts-gotico-antiqua
  fonts-goudybookletter fonts-havana fonts-hermit fonts-inter fonts-isabella fonts-junction fonts-junicode fonts-karla
  fonts-karmilla fonts-kaushanscript fonts-klaudia-berenika fonts-kristi fonts-le-murmure fonts-league-mono
  fonts-leckerli-one fonts-levien-museum fonts-levien-typoscript fonts-liberation fonts-lindenhill fonts-lmodern
  fonts-lobstertwo fonts-manrope fonts-millimetre fonts-monofur fonts-monoid fonts-mononoki fonts-mph-2b-damase
  fonts-national-park fonts-noto-mono fonts-noto-ui-core fonts-ocr-a fonts-ocr-b fonts-okolaks fonts-oldstandard
  fonts-opendin fonts-opendyslexic fonts-osifont fonts-oxygen fonts-povray fonts-prociono fonts-quattrocento
  fonts-radisnoir fonts-rampart fonts-roadgeek fonts-roboto-slab fonts-routed-gothic fonts-rufscript fonts-sil-andika
  fonts-sil-charis fonts-sil-doulos fonts-sil-gentiumplus fonts-sixtyfour fonts-sjfonts fonts-solide-mirage fonts-sora
  fonts-staypuft fonts-summersby fonts-tiresias fonts-tomsontalks fonts-triod-postnaja fonts-tuffy fonts-ubuntu-title
  fonts-uralic fonts-vollkorn fonts-yrsa-rasa fonts-cegui fonts-wine fonts-linex fonts-elstob fonts-glasstty fonts-pc
  # photographs for `sgtr synth` backgrounds
  plasma-workspace-wallpapers mate-backgrounds gnome-backgrounds desktop-base lomiri-wallpapers-20.04 ukui-wallpapers
  sway-backgrounds mypaint-data-extras
  # `sgtr evaluate --engine tesseract`
  tesseract-ocr tesseract-ocr-eng
  # headless browser for the `sgtr serve` page test (tests/test_serve_browser.py)
  chromium chromium-driver
)

# The packages among the arguments that dpkg does not list as installed, one per line.
missing_packages() {
  local p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || echo "$p"
  done
}

# The packages among the arguments that the archive has a candidate version for, one per line. apt-cache's output
# is captured whole, not piped into `grep -q`: under pipefail, grep quitting at its first match kills apt-cache
# with SIGPIPE and the pipeline fails (status 141) for exactly the packages that are available.
available_packages() {
  local p policy
  for p in "$@"; do
    policy=$(apt-cache policy "$p" 2>/dev/null) || continue
    if [[ $policy =~ Candidate:\ +[^[:space:]] && ! $policy =~ Candidate:\ +\(none\) ]]; then
      echo "$p"
    fi
  done
}

main() {
  local sudo=() missing=() available=() skipped=() failed=() p
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
  if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages ready (all ${#PACKAGES[@]} installed)"
    return 0
  fi
  if ! command -v apt-get >/dev/null || ! command -v apt-cache >/dev/null; then
    echo "no apt here: skipped all ${#missing[@]} missing packages: ${missing[*]}"
    return 0
  fi
  "${sudo[@]}" apt-get update -qq || echo "apt-get update failed; using the package lists already here"
  mapfile -t available < <(available_packages "${missing[@]}")
  for p in "${missing[@]}"; do
    [[ " ${available[*]} " == *" $p "* ]] || skipped+=("$p")
  done
  if [ ${#available[@]} -gt 0 ] && ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
      --no-install-recommends "${available[@]}" >/dev/null; then
    # One package that fails to install takes the whole batch with it: retry one at a time, keeping the rest.
    for p in "${available[@]}"; do
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$p" \
        >/dev/null 2>&1 || failed+=("$p")
    done
  fi
  echo "system packages: $((${#available[@]} - ${#failed[@]})) installed, $((${#PACKAGES[@]} - ${#missing[@]})) already there"
  if [ ${#skipped[@]} -gt 0 ]; then echo "skipped (not in this machine's archive): ${skipped[*]}"; fi
  if [ ${#failed[@]} -gt 0 ]; then echo "skipped (apt-get install failed): ${failed[*]}"; fi
  return 0
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
