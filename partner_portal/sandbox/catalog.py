"""Static vocabulary the sandbox draws its fictional customers and alerts from.

The company names are the fictional organisations Microsoft uses in its own samples, so
nothing here resembles a real customer. Alert templates mirror the kinds of detections
Defender for Endpoint raises, with plausible MITRE techniques and evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPANY_NAMES = [
    "Contoso Ltd",
    "Fabrikam Inc",
    "Northwind Traders",
    "Adventure Works Cycles",
    "Tailspin Toys",
    "Wide World Importers",
    "Woodgrove Bank",
    "Litware Inc",
    "Proseware Inc",
    "Coho Winery",
    "Alpine Ski House",
    "Blue Yonder Airlines",
    "Fourth Coffee",
    "Lamna Healthcare",
    "Margie's Travel",
    "Trey Research",
    "Wingtip Toys",
    "Humongous Insurance",
    "Lucerne Publishing",
    "Graphic Design Institute",
    "City Power & Light",
    "Consolidated Messenger",
    "Relecloud",
    "VanArsdel Ltd",
    "Bellows College",
    "Best For You Organics",
    "A. Datum Corporation",
    "Southridge Video",
    "Tailwind Traders",
    "First Up Consultants",
]

FIRST_NAMES = [
    "Megan", "Adele", "Alex", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna",
    "Joni", "Lee", "Lidia", "Lynne", "Miriam", "Nestor", "Patti", "Pradeep",
    "Sanjay", "Aisha", "Tomasz", "Ingrid", "Kenji", "Camille", "Oluwaseun", "Mateo",
]  # fmt: skip

LAST_NAMES = [
    "Bowen", "Vance", "Wilber", "Siciliani", "Archie", "Cameron", "Langer", "Lauren",
    "Sherman", "Gu", "Holloway", "Robbins", "Graham", "Wilke", "Fernandez", "Gupta",
    "Rao", "Okafor", "Nowak", "Lindqvist", "Tanaka", "Dubois", "Adeyemi", "Ruiz",
]  # fmt: skip

DEVICE_PREFIXES = ["desktop", "laptop", "ws", "srv", "vm"]
DEVICE_ROLES = ["fin", "hr", "dev", "ops", "sales", "it", "dc", "sql", "web", "file"]
RBAC_GROUPS = ["Workstations", "Servers", "Finance", "Engineering", "UnassignedGroup"]
OS_PLATFORMS = [
    ("Windows11", "23H2", 22631),
    ("Windows10", "22H2", 19045),
    ("WindowsServer2022", "21H2", 20348),
    ("WindowsServer2019", "1809", 17763),
]

PARTNER_ANALYSTS = [
    "secops@partner.example",
    "analyst1@partner.example",
    "analyst2@partner.example",
    "Automation",
]

COMMENT_TEXTS = [
    "Checked with the device owner; activity was not expected.",
    "Isolated the device pending investigation.",
    "Known admin script, raising with the customer to confirm.",
    "Escalated to the customer's IT team.",
    "Hash matches a known sample; remediation confirmed.",
    "Reviewed the process tree, no lateral movement seen.",
]

MDE_ROLES = [
    "Alert.Read.All",
    "Alert.ReadWrite.All",
    "Machine.Read.All",
    "Machine.Isolate",
    "AdvancedQuery.Read.All",
    "Ti.ReadWrite.All",
]
XDR_ROLES = ["Incident.Read.All", "Incident.ReadWrite.All", "AdvancedHunting.Read.All"]
# Microsoft Graph's security permissions (resource app 00000003-0000-0000-c000-000000000000).
GRAPH_ROLES = [
    "SecurityAlert.Read.All",
    "SecurityAlert.ReadWrite.All",
    "SecurityIncident.Read.All",
    "SecurityIncident.ReadWrite.All",
    "ThreatHunting.Read.All",
]
# Graph's directory permissions the partner app holds in the partner's own tenant, to ask
# whether a signed-in member of staff is still in their groups (never asked of customers).
DIRECTORY_ROLES = ["GroupMember.Read.All", "Directory.Read.All"]
# Which APIs a tenant's consent covers: the MDE/XDR APIs, Graph, or both (the default).
CONSENT_SCOPES = ("both", "defender", "graph")

# What the partner app asks for, and so what an admin's consent grants by default.
APP_PERMISSIONS = ["Alert.Read.All", "Alert.ReadWrite.All", "Incident.Read.All", *GRAPH_ROLES]

PERMISSION_TEXT = {
    "Alert.Read.All": ("WindowsDefenderATP", "Read all alerts"),
    "Alert.ReadWrite.All": ("WindowsDefenderATP", "Read and write all alerts"),
    "Machine.Read.All": ("WindowsDefenderATP", "Read all machine profiles"),
    "Machine.Isolate": ("WindowsDefenderATP", "Isolate machine"),
    "AdvancedQuery.Read.All": ("WindowsDefenderATP", "Run advanced queries"),
    "Ti.ReadWrite.All": ("WindowsDefenderATP", "Read and write all IOCs"),
    "Incident.Read.All": ("Microsoft Threat Protection", "Read all incidents"),
    "Incident.ReadWrite.All": ("Microsoft Threat Protection", "Read and write all incidents"),
    "AdvancedHunting.Read.All": ("Microsoft Threat Protection", "Run advanced hunting queries"),
    "SecurityAlert.Read.All": ("Microsoft Graph", "Read all security alerts"),
    "SecurityAlert.ReadWrite.All": ("Microsoft Graph", "Read and update all security alerts"),
    "SecurityIncident.Read.All": ("Microsoft Graph", "Read all security incidents"),
    "SecurityIncident.ReadWrite.All": (
        "Microsoft Graph",
        "Read and update all security incidents",
    ),
    "ThreatHunting.Read.All": ("Microsoft Graph", "Run hunting queries"),
}


def roles_in_scope(roles: list[str], scope: str) -> list[str]:
    """The roles a consent of ``scope`` ("both", "defender", "graph") can cover."""
    if scope == "graph":
        return [r for r in roles if r in GRAPH_ROLES]
    if scope == "defender":
        return [r for r in roles if r not in GRAPH_ROLES]
    return list(roles)


@dataclass(frozen=True)
class AlertTemplate:
    """One kind of detection: what it is called, how bad it is and what it leaves behind."""

    title: str
    category: str
    severities: tuple[str, ...]
    detection_source: str
    mitre: tuple[str, ...]
    description: str
    evidence: tuple[str, ...]  # entity kinds: process, file, user, ip, url, registry
    threat_family: str | None = None
    threat_name: str | None = None
    process: str = "powershell.exe"
    command_line: str = "powershell.exe -NoProfile -ExecutionPolicy Bypass"


ALERT_TEMPLATES = [
    AlertTemplate(
        "Suspicious PowerShell command line",
        "Execution",
        ("Medium", "Medium", "Low"),
        "WindowsDefenderAtp",
        ("T1059.001", "T1027"),
        "A PowerShell process started with an encoded command line. Attackers use encoded "
        "commands to hide what the script does from casual inspection.",
        ("process", "file", "user"),
        command_line="powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA",
    ),
    AlertTemplate(
        "'Mimikatz' credential theft tool",
        "CredentialAccess",
        ("High",),
        "WindowsDefenderAv",
        ("T1003.001",),
        "The credential theft tool Mimikatz was detected on the device. It can read passwords "
        "and hashes from memory.",
        ("file", "process", "user"),
        threat_family="Mimikatz",
        threat_name="HackTool:Win32/Mimikatz.D",
        process="mimikatz.exe",
        command_line='mimikatz.exe "privilege::debug" "sekurlsa::logonpasswords" exit',
    ),
    AlertTemplate(
        "Suspicious access to LSASS service",
        "CredentialAccess",
        ("High", "Medium"),
        "WindowsDefenderAtp",
        ("T1003.001",),
        "A process opened the Local Security Authority Subsystem Service (LSASS) in a way "
        "that suggests an attempt to dump credentials.",
        ("process", "user"),
        process="rundll32.exe",
        command_line="rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 lsass.dmp full",
    ),
    AlertTemplate(
        "Ransomware behavior detected in the file system",
        "Ransomware",
        ("High",),
        "WindowsDefenderAv",
        ("T1486", "T1490"),
        "Many files were renamed and encrypted in a short time, and volume shadow copies were "
        "deleted. This pattern matches ransomware.",
        ("process", "file", "user"),
        threat_family="LockBit",
        threat_name="Ransom:Win32/LockBit.AA",
        process="svchost32.exe",
        command_line="vssadmin.exe delete shadows /all /quiet",
    ),
    AlertTemplate(
        "'Emotet' malware was detected",
        "Malware",
        ("Medium", "High"),
        "WindowsDefenderAv",
        ("T1204.002", "T1566.001"),
        "Emotet, a loader spread through malicious documents, was found on the device and "
        "quarantined.",
        ("file", "user"),
        threat_family="Emotet",
        threat_name="Trojan:Win32/Emotet.PB!MTB",
        process="WINWORD.EXE",
        command_line='"WINWORD.EXE" /n "C:\\Users\\Public\\Invoice_0431.doc"',
    ),
    AlertTemplate(
        "An active 'Trickbot' malware was blocked",
        "Malware",
        ("Low", "Medium"),
        "WindowsDefenderAv",
        ("T1055",),
        "Microsoft Defender Antivirus blocked Trickbot while it was running. Check whether the "
        "device shows other signs of compromise.",
        ("file", "process"),
        threat_family="Trickbot",
        threat_name="Trojan:Win32/Trickbot.SM!MTB",
        process="regsvr32.exe",
        command_line="regsvr32.exe /s C:\\ProgramData\\tbot.dll",
    ),
    AlertTemplate(
        "Suspicious scheduled task",
        "Persistence",
        ("Medium", "Low"),
        "WindowsDefenderAtp",
        ("T1053.005",),
        "A scheduled task was created that runs a script from a user-writable folder at every "
        "logon.",
        ("process", "user"),
        process="schtasks.exe",
        command_line='schtasks.exe /create /sc onlogon /tn "Updater" /tr C:\\Users\\Public\\u.ps1',
    ),
    AlertTemplate(
        "New local admin added using Net commands",
        "Persistence",
        ("Low", "Medium"),
        "WindowsDefenderAtp",
        ("T1136.001", "T1098"),
        "The net.exe utility added an account to the local Administrators group.",
        ("process", "user"),
        process="net.exe",
        command_line="net.exe localgroup administrators support$ /add",
    ),
    AlertTemplate(
        "Anomalous account lookups",
        "Discovery",
        ("Low",),
        "WindowsDefenderAtp",
        ("T1087.002", "T1069.002"),
        "A process enumerated domain accounts and groups in a way that matches reconnaissance.",
        ("process", "user"),
        process="net.exe",
        command_line='net.exe group "Domain Admins" /domain',
    ),
    AlertTemplate(
        "Suspicious remote activity via WMI",
        "LateralMovement",
        ("Medium",),
        "WindowsDefenderAtp",
        ("T1047",),
        "A process was started on this device through Windows Management Instrumentation from "
        "another machine.",
        ("process", "ip", "user"),
        process="WmiPrvSE.exe",
        command_line="cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__16823 2>&1",
    ),
    AlertTemplate(
        "Connection to a custom network indicator",
        "CommandAndControl",
        ("Medium", "Low"),
        "CustomerTI",
        ("T1071.001",),
        "The device connected to an address on the organisation's custom indicator list.",
        ("ip", "url", "process"),
        process="chrome.exe",
        command_line='"chrome.exe" --type=utility',
    ),
    AlertTemplate(
        "Suspicious Microsoft Defender Antivirus exclusion",
        "DefenseEvasion",
        ("Medium",),
        "WindowsDefenderAtp",
        ("T1562.001",),
        "An exclusion was added to Microsoft Defender Antivirus for a whole drive, which stops "
        "it from scanning the files there.",
        ("process", "registry", "user"),
        command_line="powershell.exe Add-MpPreference -ExclusionPath C:\\",
    ),
    AlertTemplate(
        "Event log was cleared",
        "DefenseEvasion",
        ("Medium",),
        "WindowsDefenderAtp",
        ("T1070.001",),
        "The Security event log was cleared. Attackers clear logs to remove traces.",
        ("process", "user"),
        process="wevtutil.exe",
        command_line="wevtutil.exe cl Security",
    ),
    AlertTemplate(
        "Possible exfiltration of archived data",
        "Exfiltration",
        ("Medium", "High"),
        "WindowsDefenderAtp",
        ("T1560.001", "T1048"),
        "Files were compressed into a password-protected archive and then uploaded to an "
        "uncommon external address.",
        ("process", "file", "ip"),
        process="7z.exe",
        command_line="7z.exe a -pS3cr3t C:\\Temp\\q3.7z C:\\Finance\\*",
    ),
    AlertTemplate(
        "'Presenoker' unwanted software was detected",
        "UnwantedSoftware",
        ("Informational", "Low"),
        "WindowsDefenderAv",
        (),
        "Potentially unwanted software that changes browser settings was found and removed.",
        ("file",),
        threat_family="Presenoker",
        threat_name="PUA:Win32/Presenoker",
        process="setup.exe",
        command_line="setup.exe /silent",
    ),
    AlertTemplate(
        "Suspicious URL clicked",
        "InitialAccess",
        ("Low", "Medium"),
        "WindowsDefenderSmartScreen",
        ("T1566.002",),
        "A user opened a link that SmartScreen reports as phishing.",
        ("url", "user", "process"),
        process="msedge.exe",
        command_line='"msedge.exe" --single-argument https://login-portal.example.net/',
    ),
    AlertTemplate(
        "Automated investigation started manually",
        "SuspiciousActivity",
        ("Informational",),
        "AutomatedInvestigation",
        (),
        "An analyst started an automated investigation on this device.",
        ("user",),
    ),
    AlertTemplate(
        "Suspicious sequence of exploration activities",
        "Discovery",
        ("Low", "Medium"),
        "WindowsDefenderAtp",
        ("T1016", "T1018", "T1082"),
        "Several discovery commands (ipconfig, nltest, systeminfo) ran in quick succession, as "
        "is common in the first minutes of a hands-on attack.",
        ("process", "user"),
        process="cmd.exe",
        command_line="cmd.exe /c nltest /dclist: & systeminfo & ipconfig /all",
    ),
    AlertTemplate(
        "Possible Antimalware Scan Interface (AMSI) tampering",
        "DefenseEvasion",
        ("Medium",),
        "WindowsDefenderAtp",
        ("T1562.001",),
        "A script tried to disable AMSI in its own process so that later code is not scanned.",
        ("process", "file"),
    ),
    AlertTemplate(
        "Suspicious process injection observed",
        "DefenseEvasion",
        ("Medium", "High"),
        "WindowsDefenderAtp",
        ("T1055", "T1055.012"),
        "A process wrote code into the memory of another process and started a thread there.",
        ("process", "file"),
        process="explorer.exe",
        command_line="C:\\Windows\\explorer.exe",
    ),
    AlertTemplate(
        "'CobaltStrike' command and control was detected",
        "CommandAndControl",
        ("High",),
        "WindowsDefenderAtp",
        ("T1071.001", "T1573"),
        "Network traffic and memory artefacts match a Cobalt Strike beacon.",
        ("process", "ip"),
        threat_family="CobaltStrike",
        threat_name="Behavior:Win32/CobaltStrike.B",
        process="rundll32.exe",
        command_line="rundll32.exe",
    ),
    AlertTemplate(
        "Rare RDP connection from an external address",
        "LateralMovement",
        ("Medium",),
        "CustomDetection",
        ("T1021.001",),
        "A custom detection rule found a remote desktop logon from an address never seen "
        "before for this organisation.",
        ("ip", "user"),
    ),
    AlertTemplate(
        "Exploit attempt on a vulnerable Office application",
        "Exploit",
        ("High",),
        "WindowsDefenderAtp",
        ("T1203",),
        "An Office application started an unexpected child process right after opening a "
        "document, a sign of a memory-corruption exploit.",
        ("process", "file", "user"),
        process="EXCEL.EXE",
        command_line='"EXCEL.EXE" /dde',
    ),
    AlertTemplate(
        "Hands-on-keyboard attack via Impacket",
        "LateralMovement",
        ("High",),
        "WindowsDefenderAtp",
        ("T1021.002", "T1047", "T1569.002"),
        "Commands arrived through a pattern that matches the Impacket toolkit, used by human "
        "operators moving between machines.",
        ("process", "ip", "user"),
        process="cmd.exe",
        command_line="cmd.exe /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\__1700 2>&1",
    ),
    AlertTemplate(
        "Suspicious registry run key added",
        "Persistence",
        ("Low", "Medium"),
        "WindowsDefenderAtp",
        ("T1547.001",),
        "A run key was added that starts a binary from the user's temporary folder at logon.",
        ("registry", "process", "file"),
        process="reg.exe",
        command_line="reg.exe add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v upd",
    ),
]

XDR_DETECTION_SOURCE = {
    "WindowsDefenderAtp": "EDR",
    "WindowsDefenderAv": "Antivirus",
    "WindowsDefenderSmartScreen": "SmartScreen",
    "CustomerTI": "CustomTi",
    "AutomatedInvestigation": "AutomatedInvestigation",
    "CustomDetection": "CustomDetection",
}

SEVERITY_RANK = {"UnSpecified": 0, "Informational": 1, "Low": 2, "Medium": 3, "High": 4}
