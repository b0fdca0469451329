pub fn parse_card(
    _e: &openwaba_engine::Engine,
    _r: &openwaba_store::RateCardRecord,
) -> Result<
    (
        chrono::NaiveDate,
        openwaba_engine::CardFamily,
        openwaba_engine::RateCard,
    ),
    String,
> {
    Err("todo".into())
}
