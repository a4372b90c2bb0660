package spamtest

import "strings"

func words(s string) []string { return strings.Fields(s) }

var (
	common = words(`the and for you your with this that have will from are our can all please
		today here more about time information email message know just like new also would there
		what which their when make need want good great next week month year thanks best regards
		people world home work life help find free offer today only click here send receive`)

	firstNames  = words(`Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Nina Oscar Peggy Rupert Sybil Trent Victor Wendy`)
	hamDomains  = words(`example.org partner.example customer.example university.example.edu supplier.example.net`)
	hamSubjects = []string{"meeting on Tuesday", "draft of the quarterly report", "lunch tomorrow?", "budget review",
		"release notes for 2.3", "agenda for the offsite", "question about the contract", "your invoice 2026-114",
		"holiday schedule", "notes from the call", "code review for the parser", "travel plans"}
	hamWords = words(`meeting agenda project report draft review schedule budget team deadline
		attached document minutes call tomorrow thursday friday office colleagues contract proposal
		customer delivery invoice quarter planning roadmap release deploy parser tests branch merge
		lunch dinner weekend family kids holiday trip flight hotel conference slides presentation
		feedback comments changes version update notes discussion decision approval manager department
		spreadsheet numbers figures forecast revenue hiring interview candidate onboarding training
		offer price discount`)
	newsSubjects = []string{"This week in Go", "Kernel release roundup", "Communications digest", "Open source news"}
	newsWords    = words(`release kernel compiler language library framework conference talk article
		community maintainers patch security advisory benchmark performance garbage collector generics
		tutorial interview survey results announcement sponsor events meetup podcast episode`)
	ciWords = words(`build job pipeline commit branch main test passed failed duration artifact
		coverage lint stage runner deploy staging logs step cache workflow triggered push`)

	spamUsers   = words(`info sales noreply offers deals winner support admin service promo`)
	spamDomains = words(`mail-offers.top bestdeals.click cheap-rx.biz lucky-win.info secure-alerts.xyz promo-mail.icu fastcash.live`)
	spamHosts   = words(`pills-now.top rx-cheap.click win-prize.info verify-account.xyz login-secure.icu crypto-gains.live bit.example-short.ru`)
	spamNames   = words(`Pharmacy Winner Claims Rewards Support Diamond Manager Agent`)

	pharmaSubjects = []string{"Cheap meds without prescription", "V1agra 80% OFF", "Best pharmacy online", "Lose weight fast!!!"}
	pharmaWords    = words(`viagra cialis pills pharmacy prescription cheap discount order online
		generic meds tablets weight loss enlargement satisfaction guaranteed shipping worldwide
		doctor approved lowest price bonus capsules limited stock`)
	fraudSubjects = []string{"URGENT BUSINESS PROPOSAL", "Beneficiary notification", "Confidential transfer", "Your inheritance fund"}
	fraudWords    = words(`beneficiary transfer million dollars usd fund bank account inheritance
		deceased barrister confidential urgent proposal next kin percentage share diplomat
		consignment compensation lottery claim western union release secret trust cooperation`)
	phishSubjects = []string{"Your account has been suspended", "Unusual sign-in activity", "Action required: verify your identity", "Payment declined"}
	phishWords    = words(`account suspended verify identity login password confirm unusual activity
		security alert locked restore access within hours failure permanently closed billing
		information update credentials click link immediately unauthorized`)
	cryptoSubjects = []string{"Make $5000 a day with Bitcoin", "Guaranteed crypto profits", "Join the investment club", "Your wallet bonus"}
	cryptoWords    = words(`bitcoin crypto investment profit guaranteed returns wallet trading platform
		earn passive income millionaire secret system join now bonus deposit withdraw forex
		opportunity financial freedom risk free exclusive members`)
	attachSubjects = []string{"Invoice attached", "Scanned document", "Payment confirmation", "Shipping documents"}
	attachWords    = words(`please see attached invoice document payment open file kindly review
		confirm receipt urgent overdue`)
)
