; Pluto Tracker's Windows installer, built with Debian's makensis (see docs/releasing.md):
;
;   makensis -DVERSION=0.2.0 -DSOURCE=<folder> -DOUTFILE=<setup.exe> scripts/windows/installer.nsi
;
; <folder> holds pluto-tracker.exe, WebView2Loader.dll and pluto.exe. -DFAST compresses with
; zlib instead of LZMA, for tests.
;
; Per user, without administrator rights: the program goes to
; %LOCALAPPDATA%\Programs\Pluto Tracker, with a Start-menu shortcut and an entry in "Installed
; apps". The records stay in %APPDATA%\com.pluto.tracker, which the uninstaller keeps unless asked.
;
; Command line, as the app's updater (tauri-plugin-updater) and an administrator use it:
;   /S            silent: no window at all (NSIS)
;   /P            passive: only the progress bar, nothing to click
;   /UPDATE       an update of an installed copy: no WebView2 question
;   /R            start Pluto Tracker when done
;   /ARGS ...     the rest of the line is passed to Pluto Tracker when /R starts it
;   /D=PATH       install folder (NSIS; last, unquoted)
; The uninstaller takes /S and /DELETEDATA (also delete the records).

!ifndef VERSION | SOURCE | OUTFILE
  !error "give -DVERSION=, -DSOURCE= and -DOUTFILE="
!endif

Unicode true
Target amd64-unicode
!ifdef FAST
  SetCompressor zlib
!else
  SetCompressor /SOLID lzma
!endif

!include MUI2.nsh
!include LogicLib.nsh
!include FileFunc.nsh
!include StrFunc.nsh
${StrStr}

!define PRODUCT "Pluto Tracker"
!define IDENTIFIER "com.pluto.tracker"
!define APP_EXE "pluto-tracker.exe"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${PRODUCT}"
; Microsoft's Evergreen WebView2 runtime: its client key, and where to get it.
!define WEBVIEW2_KEY "Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
!define WEBVIEW2_URL "https://go.microsoft.com/fwlink/p/?LinkId=2124703"

Name "${PRODUCT}"
OutFile "${OUTFILE}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT}"
; An update goes where the installed copy is, wherever the user put it.
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
ShowInstDetails nevershow
ShowUninstDetails nevershow
BrandingText "${PRODUCT} ${VERSION}"
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=0 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileDescription" "${PRODUCT} installer"
VIAddVersionKey /LANG=0 "LegalCopyright" "Pluto Tracker"

Var Passive
Var Update
Var Restart
Var AppArgs
Var DeleteRecords

!define MUI_ABORTWARNING
!define MUI_PAGE_CUSTOMFUNCTION_PRE SkipWhenPassive
!insertmacro MUI_PAGE_WELCOME
!define MUI_PAGE_CUSTOMFUNCTION_PRE SkipWhenPassive
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_PAGE_CUSTOMFUNCTION_PRE SkipWhenPassive
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP_EXE}"
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "Danish"
!insertmacro MUI_LANGUAGE "German"

LangString NoWebView2 ${LANG_ENGLISH} "${PRODUCT} needs the Microsoft Edge WebView2 Runtime, which is not installed on this computer.$\r$\n$\r$\nOpen Microsoft's download page now? Install it from there, then start ${PRODUCT}."
LangString NoWebView2 ${LANG_DANISH} "${PRODUCT} kræver Microsoft Edge WebView2 Runtime, som ikke er installeret på denne computer.$\r$\n$\r$\nVil du åbne Microsofts downloadside nu? Installér den derfra, og start så ${PRODUCT}."
LangString NoWebView2 ${LANG_GERMAN} "${PRODUCT} benötigt die Microsoft Edge WebView2 Runtime, die auf diesem Computer nicht installiert ist.$\r$\n$\r$\nJetzt die Downloadseite von Microsoft öffnen? Installieren Sie sie dort und starten Sie dann ${PRODUCT}."
LangString StillRunning ${LANG_ENGLISH} "${PRODUCT} is still running. Close it, then choose Retry."
LangString StillRunning ${LANG_DANISH} "${PRODUCT} kører stadig. Luk programmet, og vælg så Prøv igen."
LangString StillRunning ${LANG_GERMAN} "${PRODUCT} läuft noch. Schließen Sie es und wählen Sie dann Wiederholen."
LangString DeleteData ${LANG_ENGLISH} "Also delete the records kept on this computer ($APPDATA\${IDENTIFIER})?$\r$\n$\r$\nEntries that were never synced to the server are lost for good. Choose No to keep them for a later installation."
LangString DeleteData ${LANG_DANISH} "Skal registreringerne på denne computer ($APPDATA\${IDENTIFIER}) også slettes?$\r$\n$\r$\nPoster, der aldrig er synkroniseret til serveren, går tabt for altid. Vælg Nej for at beholde dem til en senere installation."
LangString DeleteData ${LANG_GERMAN} "Auch die auf diesem Computer gespeicherten Aufzeichnungen ($APPDATA\${IDENTIFIER}) löschen?$\r$\n$\r$\nEinträge, die nie mit dem Server synchronisiert wurden, gehen endgültig verloren. Wählen Sie Nein, um sie für eine spätere Installation zu behalten."

Function .onInit
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/P" $1
  ${IfNot} ${Errors}
    StrCpy $Passive 1
    SetAutoClose true
  ${EndIf}
  ClearErrors
  ${GetOptions} $0 "/UPDATE" $1
  ${IfNot} ${Errors}
    StrCpy $Update 1
  ${EndIf}
  ClearErrors
  ${GetOptions} $0 "/R" $1
  ${IfNot} ${Errors}
    StrCpy $Restart 1
  ${EndIf}
  ; Everything after "/ARGS " belongs to the app (the updater escapes its own slashes).
  ${StrStr} $1 $0 "/ARGS "
  ${If} $1 != ""
    StrCpy $AppArgs $1 "" 6
  ${EndIf}
FunctionEnd

Function SkipWhenPassive
  ${If} $Passive == 1
    Abort
  ${EndIf}
FunctionEnd

; The Evergreen runtime registers its version per machine (32-bit view) or per user; "0.0.0.0"
; means it was removed.
Function CheckWebView2
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\${WEBVIEW2_KEY}" "pv"
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    ReadRegStr $0 HKCU "Software\${WEBVIEW2_KEY}" "pv"
  ${EndIf}
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    DetailPrint "The Microsoft Edge WebView2 Runtime is missing: ${WEBVIEW2_URL}"
    ${IfNot} ${Silent}
    ${AndIf} $Passive != 1
      MessageBox MB_YESNO|MB_ICONEXCLAMATION "$(NoWebView2)" IDNO done
      ExecShell "open" "${WEBVIEW2_URL}"
    ${EndIf}
  ${EndIf}
  done:
FunctionEnd

; The updater starts this installer and then closes the app: wait for the app to let go of its
; program file instead of failing to replace it.
Function WaitForApp
  StrCpy $1 0
  ${DoWhile} ${FileExists} "$INSTDIR\${APP_EXE}"
    ClearErrors
    Delete "$INSTDIR\${APP_EXE}"
    ${IfNot} ${Errors}
      ${Break}
    ${EndIf}
    IntOp $1 $1 + 1
    ${If} $1 >= 40
      ${If} ${Silent}
        SetErrorLevel 2
        Quit
      ${EndIf}
      MessageBox MB_RETRYCANCEL|MB_ICONEXCLAMATION "$(StillRunning)" IDRETRY retry
      Quit
      retry:
      StrCpy $1 0
    ${EndIf}
    Sleep 250
  ${Loop}
FunctionEnd

Section "Install"
  ${If} $Update != 1
    Call CheckWebView2
  ${EndIf}
  SetOutPath "$INSTDIR"
  Call WaitForApp
  File "${SOURCE}\${APP_EXE}"
  File "${SOURCE}\WebView2Loader.dll"
  File "${SOURCE}\pluto.exe"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\${APP_EXE}"

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "Pluto Tracker"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" $0

  ${If} $Restart == 1
    Exec '"$INSTDIR\${APP_EXE}" $AppArgs'
  ${EndIf}
SectionEnd

Function un.onInit
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/DELETEDATA" $1
  ${IfNot} ${Errors}
    StrCpy $DeleteRecords 1
  ${EndIf}
FunctionEnd

Section "Uninstall"
  Delete "$INSTDIR\${APP_EXE}"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\pluto.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"

  ${IfNot} ${Silent}
  ${AndIf} $DeleteRecords != 1
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 "$(DeleteData)" IDNO keep
    StrCpy $DeleteRecords 1
    keep:
  ${EndIf}
  ${If} $DeleteRecords == 1
    RMDir /r "$APPDATA\${IDENTIFIER}"
  ${EndIf}
SectionEnd
