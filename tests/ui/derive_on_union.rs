use session_kit::Session;

#[derive(Session)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
