package enrich

// Device categories.
const (
	CatInfusionPump   = "infusion-pump"
	CatPatientMonitor = "patient-monitor"
	CatVentilator     = "ventilator-anaesthesia"
	CatImaging        = "imaging-modality"
	CatPACS           = "pacs-dicom"
	CatLaboratory     = "laboratory-ivd"
	CatImplantable    = "implantable-cardiac"
	CatEHR            = "ehr-clinical-it"
	CatIntegration    = "hl7-fhir-integration"
	CatDialysis       = "dialysis"
	CatSurgical       = "surgical-equipment"
	CatCareEquipment  = "care-equipment"
	CatBuildingOT     = "building-facility-ot"
	CatGeneralIT      = "general-it"
)

// Categories in the order they are reported.
var Categories = []string{CatInfusionPump, CatPatientMonitor, CatVentilator, CatImaging, CatPACS, CatLaboratory,
	CatImplantable, CatEHR, CatIntegration, CatDialysis, CatSurgical, CatCareEquipment, CatBuildingOT, CatGeneralIT}

// clinical categories touch patients or clinical data.
var clinical = map[string]bool{CatInfusionPump: true, CatPatientMonitor: true, CatVentilator: true, CatImaging: true,
	CatPACS: true, CatLaboratory: true, CatImplantable: true, CatEHR: true, CatIntegration: true, CatDialysis: true,
	CatSurgical: true, CatCareEquipment: true}

// safetyCategories imply patient safety: life-sustaining, dosing, alarms, implants.
var safetyCategories = map[string]string{
	CatInfusionPump:   "infusion pumps dose medication",
	CatVentilator:     "ventilators and anaesthesia machines sustain life",
	CatImplantable:    "implants and cardiac devices sustain life",
	CatPatientMonitor: "patient monitors raise clinical alarms",
	CatDialysis:       "dialysis machines deliver life-sustaining therapy",
}

// categoryKeywords are normalised words and phrases (English, German,
// French, Dutch, Spanish, Italian, and product families) per category.
var categoryKeywords = map[string][]string{
	CatInfusionPump: {"infusion", "infusion pump", "infusion system", "syringe pump", "volumetric pump", "insulin pump", "pca pump",
		"infusomat", "perfusor", "spacestation", "sigma spectrum", "alaris", "plum 360", "medfusion", "sapphire", "flowmaster",
		"infusionspumpe", "spritzenpumpe", "pompe a perfusion", "pousse seringue", "infuuspomp", "spuitpomp",
		"bomba de infusion", "pompa infusionale", "pompa per infusione", "pompa a siringa",
		"bodyguard", "onlinesuite", "battery pack sp", "space pump", "spacecom", "infusomat space", "diabecare", "anydana", "mylife",
		"medication pump", "smart pump", "minimed", "paradigm", "plum a", "lifecare pca", "symbiq", "gemstar", "medfusion 4000", "kangaroo"},
	CatPatientMonitor: {"patient monitor", "patient monitoring", "bedside monitor", "central station", "telemetry", "carescape",
		"intellivue", "infinity delta", "pulse oximeter", "oximetry", "spo2", "ecg", "ekg", "electrocardiograph", "vital signs",
		"patientenmonitor", "ueberwachungsmonitor", "moniteur patient", "moniteur de surveillance", "patientmonitor",
		"monitor de paciente", "monitor paziente", "monitor multiparametrico",
		"holter", "suresigns", "pagewriter", "cardiograph", "cardiographs", "kardia", "kardiamobile", "neuroworks", "eeg", "alice 6",
		"polysomnography", "perinatal", "fetal monitor", "intellispace perinatal", "connex", "spot vital signs", "vital signs monitor",
		"mx40", "mx800", "welch allyn", "beneview", "benevision", "efficia", "capnography", "telemetry transmitter", "surveyor central", "weighing scale"},
	CatVentilator: {"ventilator", "ventilators", "ventilation", "anesthesia", "anaesthesia", "anesthetic", "respirator", "cpap", "bipap",
		"beatmung", "beatmungsgeraet", "narkose", "narkosegeraet", "anesthesie", "ventilateur", "respirateur",
		"beademing", "beademingsapparaat", "anesthesie apparaat", "ventilador", "anestesia", "ventilatore polmonare", "respiratore",
		"dreammapper", "encoreanywhere", "sleep apnea", "sleep therapy", "trilogy", "evita", "savina", "fabius", "hamilton c1", "bellavista"},
	CatImaging: {"mri", "magnetic resonance", "ct scanner", "computed tomography", "x ray", "xray", "radiography", "ultrasound",
		"sonography", "mammography", "fluoroscopy", "angiography", "pet ct", "c arm", "somatom", "magnetom", "radiotherapy",
		"linear accelerator", "roentgen", "rontgen", "ultraschall", "magnetresonanz", "computertomograph", "echographie",
		"radiographie", "echografie", "ecografia", "ecografo", "tomografia", "radiografia", "imaging system", "modality",
		"imaging", "cassette reader", "fcr", "e alert", "veradius", "pulsera", "endura", "cath lab", "interventional x ray", "dental x ray"},
	CatPACS: {"pacs", "dicom", "picture archiving", "radiology information system", "enterprise imaging", "vendor neutral archive",
		"image viewer", "dicom viewer", "teleradiology", "bildarchiv", "archivage d images",
		"dosewise", "intellispace portal", "peervue", "horizon cardiology", "cardiology", "cardiovascular information", "intellispace cardiovascular",
		"xcelera", "meddream", "dcm file", "syngo", "dcm"},
	CatLaboratory: {"laboratory", "analyzer", "analyser", "in vitro", "ivd", "blood gas", "hematology", "haematology", "immunoassay",
		"pcr", "sequencer", "laboratory information system", "middleware laboratory", "labor", "laboranalysator", "laboratoire",
		"automate d analyse", "laboratorium", "laboratorio", "analizzatore", "analizador",
		"kiestra", "specimen", "speciman", "viper lt", "totalys", "synapsys", "facschorus", "cell sorter", "flow cytometer", "cytometry",
		"point of care", "sequencing", "iseq", "miseq", "nextseq", "novaseq", "miniseq", "iscan", "blood glucose", "glucose meter",
		"pathology", "microbiology", "bactec", "phoenix m50", "cobas", "alinity", "architect", "diabetes management"},
	CatImplantable: {"implant", "implantable", "pacemaker", "defibrillator", "cardiac", "insulin", "glucose monitor",
		"continuous glucose", "neurostimulator", "cochlear", "herzschrittmacher", "defibrillateur", "stimulateur cardiaque",
		"marcapasos", "desfibrilador", "defibrillatore", "aed",
		"merlin", "merlin home", "merlinondemand", "programmer", "clinician programmer", "carelink", "encore programmer", "latitude",
		"zoom latitude", "interstim", "neurostimulation", "n vision", "defibrillators", "lifepak"},
	CatEHR: {"ehr", "emr", "electronic health record", "electronic medical record", "health record", "patient record",
		"clinical information system", "hospital information system", "patient portal", "medication management", "pharmacy",
		"e prescribing", "krankenhausinformationssystem", "patientenakte", "dossier patient", "dossier medical", "patientendossier",
		"elektronisch patientendossier", "historia clinica", "cartella clinica", "fascicolo sanitario",
		"clinical collaboration", "collaboration platform", "health portal", "openclinic", "engage software", "healthsuite", "health app",
		"smartlog", "pyxis", "medication dispensing", "dispensing cabinet", "mychart", "hyperspace", "powerchart", "expanse", "trakcare"},
	CatIntegration: {"hl7", "fhir", "interface engine", "integration engine", "mirth connect", "cloverleaf", "rhapsody integration", "ihe",
		"healthshare", "iris for health", "ensemble", "interoperability", "xds", "intellibridge", "smartlinx", "capsule", "datacaptor",
		"mobilelink", "device integration", "medical device integration", "neuron 2", "upgrade utility"},
	CatDialysis: {"dialysis", "hemodialysis", "haemodialysis", "prismaflex", "prismax", "crrt", "renal", "dialyse", "dialisi", "dialisis",
		"5008", "6008 cardiac", "nxstage"},
	CatSurgical: {"surgical", "surgery", "electrosurgical", "energy platform", "valleylab", "endo surgery", "surgical robot", "endoscope",
		"endoscopy", "sterilizer", "steriliser", "generator gen11", "operating room", "chirurgie", "chirurgisch", "quirofano", "chirurgico"},
	CatCareEquipment: {"medsurg bed", "hospital bed", "icu bed", "ibed", "medical air", "medical gas", "patient lift", "totalalert",
		"krankenhausbett", "lit medicalise", "ziekenhuisbed", "cama hospitalaria", "letto ospedaliero"},
	CatBuildingOT: {"hvac", "building automation", "building management", "bacnet", "access control", "badge", "elevator",
		"fire alarm", "nurse call", "power distribution", "uninterruptible power", "scada", "plc", "simatic", "modbus", "desigo",
		"metasys", "niagara", "gebaeudeautomation", "gebaeudeleittechnik", "brandmelde", "lichtruf", "gestion technique du batiment",
		"gebouwbeheer", "automatizacion de edificios", "controllo accessi",
		"pneumatic tube", "translogic", "nexus control panel"},
	CatGeneralIT: {"vpn", "firewall", "windows", "microsoft exchange", "browser", "remote desktop", "hypervisor", "active directory",
		"web server", "java", "linux kernel", "openssl", "sharepoint", "outlook"},
}

// medicalContextKeywords name a category only when the advisory's vendor
// makes medical devices or clinical IT: "pump" or "bed" alone could be a
// building's.
var medicalContextKeywords = map[string][]string{
	CatInfusionPump:   {"pump", "pumps", "infuser"},
	CatPatientMonitor: {"monitor", "monitors", "monitoring", "scale", "vital", "sensor"},
	CatCareEquipment:  {"bed", "beds"},
	CatSurgical:       {"generator", "instrument", "instruments"},
	CatEHR:            {"portal", "app", "application", "software", "server", "database"},
}

// healthcareWords raise relevance: a text about hospitals, patients or
// care, in six languages.
var healthcareWords = []string{
	"hospital", "hospitals", "patient", "patients", "clinical", "clinician", "medical", "medical device", "healthcare", "health care",
	"physician", "nurse", "nursing", "medication", "therapy", "diagnosis",
	"krankenhaus", "klinik", "klinikum", "patienten", "medizinisch", "medizinprodukt", "gesundheitswesen", "pflege", "arzt",
	"hopital", "clinique", "medical", "sante", "soins", "medecin", "dispositif medical",
	"ziekenhuis", "patient", "patienten", "medisch", "zorg", "gezondheidszorg", "arts",
	"paciente", "pacientes", "medico", "sanitario", "salud", "dispositivo medico",
	"ospedale", "paziente", "pazienti", "sanita", "sanitaria", "dispositivo medico",
}

// safetyWords imply patient safety whatever the category.
var safetyWords = []string{
	"dose", "doses", "dosing", "dosage", "overdose", "underdose", "drug library", "alarm", "alarms", "alarm limits",
	"life sustaining", "life support", "life supporting", "implant", "implanted", "therapy delivery", "insulin", "pacing", "shock",
	"dosis", "ueberdosierung", "alarmgrenzen", "lebenserhaltend", "surdosage", "dosage", "alarme", "vital",
	"overdosering", "levensondersteunend", "sobredosis", "soporte vital", "dosaggio", "sovradosaggio", "allarme", "salvavita",
}

// lexicon flags every normalised keyword with what it signals; one scan of
// an advisory's tokens looks them all up.
type lexEntry struct {
	category    string
	medicalOnly bool // the category counts only for healthcare vendors
	healthcare  bool
	safety      bool
	word        string
}

func buildLexicon() (map[string]lexEntry, int) {
	lex := map[string]lexEntry{}
	maxTok := 1
	add := func(word string, f func(*lexEntry)) {
		n := Normalize(word)
		e := lex[n]
		e.word = n
		f(&e)
		lex[n] = e
		if t := len(tokens(n)); t > maxTok {
			maxTok = t
		}
	}
	for _, cat := range Categories {
		for _, w := range categoryKeywords[cat] {
			c := cat
			add(w, func(e *lexEntry) {
				if e.category == "" {
					e.category = c
				}
			})
		}
	}
	for _, cat := range Categories {
		for _, w := range medicalContextKeywords[cat] {
			c := cat
			add(w, func(e *lexEntry) {
				if e.category == "" {
					e.category, e.medicalOnly = c, true
				}
			})
		}
	}
	for _, w := range healthcareWords {
		add(w, func(e *lexEntry) { e.healthcare = true })
	}
	for _, w := range safetyWords {
		add(w, func(e *lexEntry) { e.safety = true })
	}
	return lex, maxTok
}
